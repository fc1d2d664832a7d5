# The one place where our warning flags live. Third-party headers (Boost, fmt, GoogleTest)
# come in as system includes, so -Werror applies to our code only.
option(CS_WERROR "Treat warnings in our code as errors" ON)

function(cs_warnings target)
  # -Wno-missing-field-initializers: C++20 designated initializers ({.port = 0}) leave the
  # other members at their defaults on purpose; g++ 12 would warn about every such call.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(CS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

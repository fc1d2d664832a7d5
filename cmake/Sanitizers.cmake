# Sanitizer builds, chosen by the presets (asan, tsan). One cache variable, applied to every
# target we build, so a lesson's CMakeLists.txt never has to know about it.
set(CS_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread | empty")

if(CS_SANITIZE)
  add_compile_options(-fsanitize=${CS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CS_SANITIZE})
  # g++ 12 warns (-Wtsan) that TSan does not model std::atomic_thread_fence, which Boost.Asio
  # uses; with -Werror that stops the build although nothing of ours is wrong.
  if(CS_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
endif()

# CS_FORTIFY=ON: glibc checks FD_SET/FD_ISSET bounds and aborts on an fd >= FD_SETSIZE
# instead of silently writing past the fd_set (see 04-select).
option(CS_FORTIFY "Build with -D_FORTIFY_SOURCE=2" OFF)
if(CS_FORTIFY)
  add_compile_options(-D_FORTIFY_SOURCE=2 -O2)
endif()

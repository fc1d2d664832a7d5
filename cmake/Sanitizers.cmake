# Sanitizer builds, chosen by the presets (asan, tsan). One cache variable, applied to every
# target we build, so a lesson's CMakeLists.txt never has to know about it.
set(CS_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread | empty")

if(CS_SANITIZE)
  add_compile_options(-fsanitize=${CS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CS_SANITIZE})
  # UBSan's vptr check reads the vtable through IsAccessibleMemoryRange(), which in g++ 12's
  # runtime probes memory by write()ing it to a fresh pipe(). A server out of descriptors (the
  # RLIMIT_NOFILE tests put it there on purpose) cannot make that pipe, and the check reports
  # "object has invalid vptr" for any virtual call, then halts: a false alarm that kills the
  # server. Every other UBSan check stays on.
  if(CS_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize=vptr)
  endif()
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

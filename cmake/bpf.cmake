# The bpf source (src/sources/bpf): portrel.bpf.c compiled with clang -target bpf
# against a vmlinux.h that bpftool dumps from the build machine's BTF, then
# wrapped in a libbpf skeleton (CO-RE: the one object runs on other kernels).
# PORTREL_BPF=AUTO builds it when every tool is there, else the binary says it
# has no bpf source; ON makes a missing tool an error.
set(PORTREL_HAVE_BPF 0)
if(NOT PORTREL_BPF STREQUAL "OFF")
  find_program(PORTREL_CLANG NAMES clang clang-14 clang-15 clang-16)
  find_program(PORTREL_BPFTOOL bpftool PATHS /usr/sbin /sbin)
  pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf)
  set(_missing "")
  if(NOT PORTREL_CLANG)
    list(APPEND _missing clang)
  endif()
  if(NOT PORTREL_BPFTOOL)
    list(APPEND _missing bpftool)
  endif()
  if(NOT LIBBPF_FOUND)
    list(APPEND _missing libbpf-dev)
  endif()
  if(NOT EXISTS "${PORTREL_BTF}")
    list(APPEND _missing "BTF (${PORTREL_BTF})")
  endif()
  if(_missing STREQUAL "")
    set(PORTREL_HAVE_BPF 1)
  elseif(PORTREL_BPF STREQUAL "ON")
    message(FATAL_ERROR "PORTREL_BPF=ON but missing: ${_missing}")
  else()
    message(STATUS "portrel: building without the bpf source (missing: ${_missing})")
  endif()
endif()

if(PORTREL_HAVE_BPF)
  set(_dir ${PROJECT_BINARY_DIR}/bpf)
  set(_src ${PROJECT_SOURCE_DIR}/src/sources/bpf)
  file(MAKE_DIRECTORY ${_dir})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(_arch x86)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(_arch arm64)
  else()
    set(_arch ${CMAKE_SYSTEM_PROCESSOR})
  endif()
  add_custom_command(OUTPUT ${_dir}/vmlinux.h
    COMMAND ${PORTREL_BPFTOOL} btf dump file ${PORTREL_BTF} format c > ${_dir}/vmlinux.h
    COMMENT "bpftool: vmlinux.h from ${PORTREL_BTF}" VERBATIM)
  # bpftool gen object links the object and drops its DWARF: a small skeleton.
  add_custom_command(OUTPUT ${_dir}/portrel.bpf.o
    COMMAND ${PORTREL_CLANG} -target bpf -O2 -g -D__TARGET_ARCH_${_arch}
            -I${_dir} -I${_src} ${LIBBPF_CFLAGS}
            -c ${_src}/portrel.bpf.c -o ${_dir}/portrel.tmp.o
    COMMAND ${PORTREL_BPFTOOL} gen object ${_dir}/portrel.bpf.o ${_dir}/portrel.tmp.o
    DEPENDS ${_src}/portrel.bpf.c ${_src}/portrel_bpf.h ${_dir}/vmlinux.h
    COMMENT "clang -target bpf: portrel.bpf.o" VERBATIM)
  add_custom_command(OUTPUT ${_dir}/portrel.skel.h
    COMMAND ${PORTREL_BPFTOOL} gen skeleton ${_dir}/portrel.bpf.o name portrel_bpf
            > ${_dir}/portrel.skel.h
    DEPENDS ${_dir}/portrel.bpf.o
    COMMENT "bpftool: portrel.skel.h" VERBATIM)
  # The socket-event hints of watch and record: an object of their own, so a
  # kernel that refuses them loses the hints only.
  add_custom_command(OUTPUT ${_dir}/events.bpf.o
    COMMAND ${PORTREL_CLANG} -target bpf -O2 -g -D__TARGET_ARCH_${_arch}
            -I${_dir} -I${_src} ${LIBBPF_CFLAGS}
            -c ${_src}/events.bpf.c -o ${_dir}/events.tmp.o
    COMMAND ${PORTREL_BPFTOOL} gen object ${_dir}/events.bpf.o ${_dir}/events.tmp.o
    DEPENDS ${_src}/events.bpf.c ${_src}/events_bpf.h ${_dir}/vmlinux.h
    COMMENT "clang -target bpf: events.bpf.o" VERBATIM)
  add_custom_command(OUTPUT ${_dir}/events.skel.h
    COMMAND ${PORTREL_BPFTOOL} gen skeleton ${_dir}/events.bpf.o name portrel_events_bpf
            > ${_dir}/events.skel.h
    DEPENDS ${_dir}/events.bpf.o
    COMMENT "bpftool: events.skel.h" VERBATIM)
  add_custom_target(portrel_bpf_skeleton DEPENDS ${_dir}/portrel.skel.h ${_dir}/events.skel.h)
  add_dependencies(portrel portrel_bpf_skeleton)
  target_include_directories(portrel PRIVATE ${_dir})
  target_link_libraries(portrel PRIVATE PkgConfig::LIBBPF)
endif()
target_compile_definitions(portrel PRIVATE PORTREL_HAVE_BPF=${PORTREL_HAVE_BPF})

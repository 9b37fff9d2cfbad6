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
  # One bpf object and its skeleton: NAME.bpf.c compiled, linked with bpftool
  # gen object (which drops its DWARF: a small skeleton), then NAME.skel.h
  # whose functions are SKEL_*.
  function(portrel_bpf_object name skel header)
    add_custom_command(OUTPUT ${_dir}/${name}.bpf.o
      COMMAND ${PORTREL_CLANG} -target bpf -O2 -g -D__TARGET_ARCH_${_arch}
              -I${_dir} -I${_src} ${LIBBPF_CFLAGS}
              -c ${_src}/${name}.bpf.c -o ${_dir}/${name}.tmp.o
      COMMAND ${PORTREL_BPFTOOL} gen object ${_dir}/${name}.bpf.o ${_dir}/${name}.tmp.o
      DEPENDS ${_src}/${name}.bpf.c ${_src}/${header} ${_dir}/vmlinux.h
      COMMENT "clang -target bpf: ${name}.bpf.o" VERBATIM)
    add_custom_command(OUTPUT ${_dir}/${name}.skel.h
      COMMAND ${PORTREL_BPFTOOL} gen skeleton ${_dir}/${name}.bpf.o name ${skel}
              > ${_dir}/${name}.skel.h
      DEPENDS ${_dir}/${name}.bpf.o
      COMMENT "bpftool: ${name}.skel.h" VERBATIM)
  endfunction()
  # The iterators of the bpf source; and the socket-event hints of watch and
  # record, an object of their own so that a kernel refusing them loses the
  # hints only.
  portrel_bpf_object(portrel portrel_bpf portrel_bpf.h)
  portrel_bpf_object(events portrel_events_bpf events_bpf.h)
  add_custom_target(portrel_bpf_skeleton DEPENDS ${_dir}/portrel.skel.h ${_dir}/events.skel.h)
  add_dependencies(portrel portrel_bpf_skeleton)
  target_include_directories(portrel PRIVATE ${_dir})
  target_link_libraries(portrel PRIVATE PkgConfig::LIBBPF)
endif()
target_compile_definitions(portrel PRIVATE PORTREL_HAVE_BPF=${PORTREL_HAVE_BPF})

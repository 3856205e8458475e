# ASan + UBSan configuration: the whole suite must pass under it (STYLE.md rule 15).
if(VMTP_SANITIZE)
  set(VMTP_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${VMTP_SAN_FLAGS})
  add_link_options(${VMTP_SAN_FLAGS})
  # A sanitized binary cannot be linked statically.
  set(VMTP_STATIC_NODE OFF CACHE BOOL "" FORCE)
endif()

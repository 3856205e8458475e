# House warnings (STYLE.md rule 15, after curl's PickyWarnings.cmake).
set(VMTP_WARNINGS
  -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
  -Wcast-qual -Wvla -Wimplicit-fallthrough -Wpointer-arith -Wundef
  -Wwrite-strings -Wold-style-definition -Wnull-dereference -Wdouble-promotion
  -Wmissing-declarations -Wredundant-decls -Wnested-externs -Wconversion
  -Wno-sign-conversion)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND VMTP_WARNINGS -Wduplicated-cond -Wduplicated-branches -Wlogical-op
)
endif()
if(VMTP_WERROR)
  list(APPEND VMTP_WARNINGS -Werror)
endif()
add_compile_options(${VMTP_WARNINGS})

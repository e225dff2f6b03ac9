# Compiler warnings for all Warden targets; WARDEN_WERROR turns them into errors (CI).
set(WARDEN_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith)
if(WARDEN_WERROR)
    list(APPEND WARDEN_WARNINGS -Werror)
endif()

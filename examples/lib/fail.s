; lib/fail.s: `failed`, where a program branches when a system call returned an error in r0. It
; prints s_failed, the code in decimal and s_nl (strings the including program defines) and exits
; with status 1. Uses puts and print_dec (lib/print.s).

failed:
        mov   r12, r0
        la    r1, s_failed
        call  puts
        mov   r1, r12
        call  print_dec
        la    r1, s_nl
        call  puts
        li    r0, SYS_EXIT
        li    r1, 1
        trap

; lib/print.s: console output for the examples, `.include "lib/print.s"` where the routines go.
; As in the examples: the argument in r1, callees save what they use (r0 takes the system call),
; and r11 holds 0, the caller's constant zero for compare-and-branch.

; puts(r1 = address of a NUL-terminated string)
puts:
        push  r1
        push  r2
        push  r3
        mov   r2, r1
puts_len:
        ldb   r3, [r2]
        beq   r3, r11, puts_write
        addi  r2, r2, 1
        b     puts_len
puts_write:
        sub   r2, r2, r1            ; length
        li    r0, SYS_CONSOLE_WRITE
        trap
        pop   r3
        pop   r2
        pop   r1
        ret

; print_dec(r1 = unsigned value): digits built backwards in a buffer on the (per-thread) stack
print_dec:
        push  r1
        push  r2
        push  r3
        subi  sp, sp, 12
        addi  r2, sp, 12
pd_digit:
        subi  r2, r2, 1
        remu  r3, r1, 10
        addi  r3, r3, '0'
        stb   r3, [r2]
        divu  r1, r1, 10
        bne   r1, r11, pd_digit
        addi  r3, sp, 12
        sub   r3, r3, r2
        mov   r1, r2
        mov   r2, r3
        li    r0, SYS_CONSOLE_WRITE
        trap
        addi  sp, sp, 12
        pop   r3
        pop   r2
        pop   r1
        ret

; lib/print-hex.s: print_hex for the examples that print checksums (`.include "lib/print-hex.s"`).
; Needs nothing else: it writes its own buffer and saves what it uses but r0.

; print_hex(r1 = value): exactly 8 lower-case hex digits
print_hex:
        push  r1
        push  r2
        push  r3
        push  r4
        subi  sp, sp, 8
        li    r4, 7                 ; buffer index, from the last digit back
ph_digit:
        andi  r3, r1, 15
        cmp   r3, 10
        blt   ph_decimal
        addi  r3, r3, 'a' - '0' - 10
ph_decimal:
        addi  r3, r3, '0'
        add   r2, sp, r4
        stb   r3, [r2]
        shr   r1, r1, 4
        subi  r4, r4, 1
        cmp   r4, 0
        bge   ph_digit
        mov   r1, sp
        li    r2, 8
        li    r0, SYS_CONSOLE_WRITE
        trap
        addi  sp, sp, 8
        pop   r4
        pop   r3
        pop   r2
        pop   r1
        ret

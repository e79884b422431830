; workset.s: the migration benchmark's workload. Fills SIZE bytes once, then for ROUNDS rounds
; rewrites the first WSET bytes (its working set) one word per STEP bytes, printing a line every
; PRINT rounds, and ends with a checksum of the working set.
;
; sparse (the defaults): a large address space of which a small part stays in use;
; dense: WSET = SIZE, so most of the memory is rewritten all the time.
; Override with the assembler's defines, e.g. { WSET: 4 * 1024 * 1024 }.

        .equ SIZE, 1024 * 1024
        .equ WSET, 32 * 1024
        .equ ROUNDS, 400
        .equ PRINT, 100
        .equ STEP, 64

        .text
_start:
        li    r11, 0
        ; fill: word i = i * 2654435761
        la    r6, buf
        li    r7, 0
        li    r8, SIZE / 4
        li    r9, 0x9e3779b1
fill:
        mul   r1, r7, r9
        stw   r1, [r6]
        addi  r6, r6, 4
        addi  r7, r7, 1
        blt   r7, r8, fill

        li    r10, 0                ; round
round:
        la    r6, buf
        li    r7, 0                 ; offset
        li    r8, WSET
rewrite:
        add   r2, r6, r7
        ldw   r1, [r2]
        add   r1, r1, r10
        xori  r1, r1, 0x5a5a
        stw   r1, [r2]
        addi  r7, r7, STEP
        blt   r7, r8, rewrite
        addi  r10, r10, 1
        li    r2, PRINT
        remu  r2, r10, r2
        bne   r2, r11, no_print
        la    r1, s_round
        call  puts
        mov   r1, r10
        call  print_dec
        la    r1, s_nl
        call  puts
no_print:
        li    r2, ROUNDS
        blt   r10, r2, round

        ; checksum of the working set (FNV-1a over words)
        la    r6, buf
        li    r7, 0
        li    r8, WSET / 4
        li    r12, 0x811c9dc5
check:
        ldw   r1, [r6]
        xor   r12, r12, r1
        mul   r12, r12, 16777619
        addi  r6, r6, 4
        addi  r7, r7, 1
        blt   r7, r8, check
        la    r1, s_checksum
        call  puts
        mov   r1, r12
        call  print_hex
        la    r1, s_nl
        call  puts
        li    r0, SYS_EXIT
        li    r1, 0
        trap

        .include "lib/print.s"
        .include "lib/print-hex.s"

        .data
s_round:    .asciz "round "
s_checksum: .asciz "checksum: 0x"
s_nl:       .asciz "\n"

        .bss
        .align 4096
buf:    .space SIZE

; bigmem.s: writes a pattern across SIZE bytes (4 MiB), changes a byte every STRIDE bytes, then
; reads everything back and prints a checksum. Every page of the buffer is written, so the task
; has SIZE bytes of dirty memory to move when it migrates.
;
;   pass 1: word i = i * 0x9e3779b1 + 12345 (32-bit wrapping), progress after every MiB
;   pass 2: for k = 0, STRIDE, 2 * STRIDE, ... < SIZE: byte k ^= k & 0xff
;   pass 3: h = 0x811c9dc5; for every word w: h = (h ^ w) * 16777619; progress after every MiB
;
; Output:
;   bigmem: 4 MiB
;   wrote 1 MiB ... wrote 4 MiB
;   touched 1025 bytes
;   checked 1 MiB ... checked 4 MiB
;   checksum: 0x........

        .equ SIZE, 4 * 1024 * 1024
        .equ STRIDE, 4093
        .equ MIB, 1024 * 1024
        .equ MIB_WORDS_MASK, MIB / 4 - 1

        .text
_start:
        li    r11, 0                ; constant zero
        la    r1, s_title
        call  puts
        li    r1, SIZE / MIB
        call  print_dec
        la    r1, s_mib_nl
        call  puts

        ; pass 1: fill
        la    r6, buf               ; address
        li    r7, 0                 ; word index
        li    r8, SIZE / 4
        li    r9, 0x9e3779b1
fill:
        mul   r1, r7, r9
        addi  r1, r1, 12345
        stw   r1, [r6]
        addi  r6, r6, 4
        addi  r7, r7, 1
        andi  r2, r7, MIB_WORDS_MASK
        bne   r2, r11, fill_next
        la    r1, s_wrote           ; "wrote <n> MiB"
        call  puts
        shr   r1, r7, 18            ; words / (MiB / 4)
        call  print_dec
        la    r1, s_mib_nl
        call  puts
fill_next:
        blt   r7, r8, fill

        ; pass 2: flip bytes at a prime stride
        la    r6, buf
        li    r7, 0                 ; offset k
        li    r8, SIZE
        li    r10, 0                ; bytes touched
touch:
        add   r2, r6, r7
        ldb   r1, [r2]
        andi  r3, r7, 0xff
        xor   r1, r1, r3
        stb   r1, [r2]
        addi  r10, r10, 1
        addi  r7, r7, STRIDE
        blt   r7, r8, touch
        la    r1, s_touched         ; "touched <n> bytes"
        call  puts
        mov   r1, r10
        call  print_dec
        la    r1, s_bytes_nl
        call  puts

        ; pass 3: checksum
        la    r6, buf
        li    r7, 0
        li    r8, SIZE / 4
        li    r12, 0x811c9dc5       ; h
check:
        ldw   r1, [r6]
        xor   r12, r12, r1
        mul   r12, r12, 16777619
        addi  r6, r6, 4
        addi  r7, r7, 1
        andi  r2, r7, MIB_WORDS_MASK
        bne   r2, r11, check_next
        la    r1, s_checked         ; "checked <n> MiB"
        call  puts
        shr   r1, r7, 18
        call  print_dec
        la    r1, s_mib_nl
        call  puts
check_next:
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
s_title:    .asciz "bigmem: "
s_wrote:    .asciz "wrote "
s_checked:  .asciz "checked "
s_mib_nl:   .asciz " MiB\n"
s_touched:  .asciz "touched "
s_bytes_nl: .asciz " bytes\n"
s_checksum: .asciz "checksum: 0x"
s_nl:       .asciz "\n"

        .bss
        .align 4096
buf:    .space SIZE

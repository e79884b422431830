; primes.s: counts the primes up to N by trial division.
;
; Every STEP numbers it prints a progress line with the count so far and the largest prime found,
; then the total and a checksum (checksum = checksum * 31 + p over the primes p, 32-bit wrapping).
;
; Output for N = 100000, STEP = 10000:
;   n=10000 primes=1229 last=9973
;   ...
;   total primes <= 100000: 9592
;   checksum: 0x........
;
; Conventions in these examples: arguments in r1..r5, result in r0, callees save what they use;
; a system call takes its number in r0 and returns results in r0 (and r1).

        .equ N, 100000
        .equ STEP, 10000

        .text
_start:
        li    r11, 0                ; constant zero, for compare-and-branch
        li    r12, N
        li    r6, 2                 ; n: the number under test
        li    r7, 0                 ; count of primes so far
        li    r8, 0                 ; checksum
        li    r9, STEP              ; next progress point
        li    r10, 0                ; largest prime so far

next_n:
        bgt   r6, r12, finish
        li    r1, 2
        beq   r6, r1, is_prime
        andi  r1, r6, 1             ; even numbers above 2 are not prime
        beq   r1, r11, not_prime
        li    r2, 3                 ; trial divisor d
        li    r3, 9                 ; d * d
        bgt   r3, r6, is_prime
try_d:
        rem   r4, r6, r2            ; d divides n: not prime
        beq   r4, r11, not_prime
        addi  r2, r2, 2
        mul   r3, r2, r2
        ble   r3, r6, try_d         ; until d * d > n
is_prime:
        addi  r7, r7, 1
        mul   r8, r8, 31
        add   r8, r8, r6
        mov   r10, r6
not_prime:
        bne   r6, r9, advance
        la    r1, s_n               ; "n=<n> primes=<count> last=<p>\n"
        call  puts
        mov   r1, r6
        call  print_dec
        la    r1, s_primes
        call  puts
        mov   r1, r7
        call  print_dec
        la    r1, s_last
        call  puts
        mov   r1, r10
        call  print_dec
        la    r1, s_nl
        call  puts
        addi  r9, r9, STEP
advance:
        addi  r6, r6, 1
        b     next_n

finish:
        la    r1, s_total           ; "total primes <= N: <count>\n"
        call  puts
        li    r1, N
        call  print_dec
        la    r1, s_colon
        call  puts
        mov   r1, r7
        call  print_dec
        la    r1, s_nl
        call  puts
        la    r1, s_checksum        ; "checksum: 0x<hex>\n"
        call  puts
        mov   r1, r8
        call  print_hex
        la    r1, s_nl
        call  puts
        li    r0, SYS_EXIT
        li    r1, 0
        trap

        .include "lib/print.s"
        .include "lib/print-hex.s"

        .data
s_n:        .asciz "n="
s_primes:   .asciz " primes="
s_last:     .asciz " last="
s_total:    .asciz "total primes <= "
s_colon:    .asciz ": "
s_checksum: .asciz "checksum: 0x"
s_nl:       .asciz "\n"

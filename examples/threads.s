; threads.s: the main thread starts WORKERS threads; worker k sums (i * i) % 1000003 over its
; slice [k * CHUNK, (k + 1) * CHUNK), then prints its result. Workers print in order (worker k
; waits, yielding, until `turn` is k, prints, then passes the turn on), so the output is the same
; however the threads are scheduled, on one host or across a migration. The main thread waits
; for the last turn and prints the total.
;
; Output (WORKERS = 4, CHUNK = 50000):
;   threads: starting 4 workers
;   worker 0: <sum>
;   worker 1: <sum>
;   worker 2: <sum>
;   worker 3: <sum>
;   total: <sum of the sums, 32-bit wrapping>

        .equ WORKERS, 4
        .equ CHUNK, 50000
        .equ STACK_SIZE, 4096
        .equ MODULUS, 1000003

        .text
_start:
        li    r11, 0                ; constant zero
        la    r1, s_start
        call  puts
        li    r1, WORKERS
        call  print_dec
        la    r1, s_workers
        call  puts

        li    r8, 0                 ; k
spawn:
        li    r0, SYS_THREAD_CREATE
        la    r1, worker            ; entry
        addi  r2, r8, 1
        muli  r2, r2, STACK_SIZE
        la    r3, stacks
        add   r2, r2, r3            ; stack top = stacks + (k + 1) * STACK_SIZE
        mov   r3, r8                ; argument: k
        trap
        bne   r0, r11, failed
        addi  r8, r8, 1
        li    r1, WORKERS
        blt   r8, r1, spawn

        la    r6, turn              ; wait until every worker has had its turn
        li    r7, WORKERS
wait_all:
        ldw   r1, [r6]
        beq   r1, r7, report
        li    r0, SYS_YIELD
        trap
        b     wait_all

report:
        la    r6, results           ; total = sum of results
        li    r8, 0
        li    r9, 0
sum_results:
        ldw   r1, [r6]
        add   r9, r9, r1
        addi  r6, r6, 4
        addi  r8, r8, 1
        blt   r8, r7, sum_results
        la    r1, s_total
        call  puts
        mov   r1, r9
        call  print_dec
        la    r1, s_nl
        call  puts
        li    r0, SYS_EXIT
        li    r1, 0
        trap

failed:
        la    r1, s_failed
        call  puts
        li    r0, SYS_EXIT
        li    r1, 1
        trap

; worker(r1 = k): runs on its own stack
worker:
        li    r11, 0
        mov   r8, r1                ; k
        muli  r6, r8, CHUNK         ; i = k * CHUNK
        addi  r7, r6, CHUNK         ; end
        li    r9, 0                 ; sum
        li    r10, MODULUS
w_loop:
        mul   r1, r6, r6
        remu  r1, r1, r10
        add   r9, r9, r1
        addi  r6, r6, 1
        blt   r6, r7, w_loop

        la    r2, results           ; results[k] = sum
        shl   r3, r8, 2
        add   r2, r2, r3
        stw   r9, [r2]

        la    r6, turn              ; wait for our turn to print
w_wait:
        ldw   r1, [r6]
        beq   r1, r8, w_print
        li    r0, SYS_YIELD
        trap
        b     w_wait
w_print:
        la    r1, s_worker          ; "worker <k>: <sum>"
        call  puts
        mov   r1, r8
        call  print_dec
        la    r1, s_colon
        call  puts
        mov   r1, r9
        call  print_dec
        la    r1, s_nl
        call  puts
        addi  r1, r8, 1             ; pass the turn on
        stw   r1, [r6]
        li    r0, SYS_THREAD_EXIT
        trap

        .include "lib/print.s"

        .data
s_start:    .asciz "threads: starting "
s_workers:  .asciz " workers\n"
s_worker:   .asciz "worker "
s_colon:    .asciz ": "
s_total:    .asciz "total: "
s_failed:   .asciz "thread_create failed\n"
s_nl:       .asciz "\n"
        .align 4
turn:       .word 0
results:    .space WORKERS * 4

        .bss
        .align 16
stacks:     .space WORKERS * STACK_SIZE

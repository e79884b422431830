; pingpong-server.s: the server half of ping-pong over Mach ports.
;
; It allocates a receive right, checks it in with the name service as "pingpong", then serves
; ROUNDS requests: each request carries one 32-bit integer n (and a send-once reply right); the
; server prints "server: ping n" and replies with n * 10 (id + 100) through the reply right. After
; the last round it prints "server: done" and exits. Run it with pingpong-client.s.
;
; Message layout (syscalls.ts, MSG): a 24-byte mach_msg_header_t, then one typed item:
;   +24 mach_msg_type_t: MACH_MSG_TYPE_INTEGER_32, 32 bits, 1 element, inline
;   +28 the integer
; 32 bytes in all.

        .equ ROUNDS, 5
        .equ MSG_SIZE, 32
        .equ MSG_MAX, 64
        .equ INT32_ITEM, MACH_MSG_TYPE_INTEGER_32 | (32 << 8) | (1 << 16) | (1 << 28)

        .text
_start:
        li    r11, 0                ; constant zero

        li    r0, SYS_PORT_ALLOCATE ; the service port
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        bne   r0, r11, failed
        mov   r8, r1

        li    r0, SYS_NETNAME_CHECK_IN
        la    r1, s_name
        li    r2, NAME_LEN
        mov   r3, r8
        trap
        bne   r0, r11, failed

        la    r1, s_ready
        call  puts
        li    r9, 0                 ; rounds served
        la    r10, msg

serve:
        li    r0, SYS_MACH_MSG      ; receive a request on the service port
        mov   r1, r10
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, MSG_MAX
        mov   r5, r8
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed

        ldw   r12, [r10 + MSGH_BODY + 4]   ; n
        la    r1, s_ping            ; "server: ping <n>"
        call  puts
        mov   r1, r12
        call  print_dec
        la    r1, s_nl
        call  puts

        ; Reply in the same buffer: the received remote port is the client's reply port.
        li    r1, MACH_MSG_TYPE_MOVE_SEND_ONCE
        stw   r1, [r10 + MSGH_BITS]
        li    r1, MSG_SIZE
        stw   r1, [r10 + MSGH_SIZE]
        stw   r11, [r10 + MSGH_LOCAL_PORT]
        ldw   r1, [r10 + MSGH_ID]
        addi  r1, r1, 100
        stw   r1, [r10 + MSGH_ID]
        li    r1, INT32_ITEM
        stw   r1, [r10 + MSGH_BODY]
        muli  r1, r12, 10
        stw   r1, [r10 + MSGH_BODY + 4]

        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_SEND_MSG
        li    r3, MSG_SIZE
        li    r4, 0
        li    r5, MACH_PORT_NULL
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed

        addi  r9, r9, 1
        li    r1, ROUNDS
        blt   r9, r1, serve

        la    r1, s_done
        call  puts
        li    r0, SYS_EXIT
        li    r1, 0
        trap

        .include "lib/fail.s"
        .include "lib/print.s"

        .data
s_name:     .ascii "pingpong"
s_name_end:
        .equ NAME_LEN, s_name_end - s_name
s_ready:    .asciz "server: ready\n"
s_ping:     .asciz "server: ping "
s_done:     .asciz "server: done\n"
s_failed:   .asciz "server: failed with "
s_nl:       .asciz "\n"

        .bss
        .align 4
msg:    .space MSG_MAX

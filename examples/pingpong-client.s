; pingpong-client.s: the client half of ping-pong over Mach ports.
;
; It looks up "pingpong" with the name service (retrying every 10 ms until the server has checked
; in), allocates a reply port, then for n = 1..ROUNDS sends n with a send-once reply right and
; waits for the answer in the same mach_msg call (MACH_SEND_MSG | MACH_RCV_MSG), printing
; "client: ping n" and "client: pong <n * 10> (id <id>)". Run it with pingpong-server.s.
;
; Message layout (syscalls.ts, MSG): a 24-byte mach_msg_header_t, then one typed item:
;   +24 mach_msg_type_t: MACH_MSG_TYPE_INTEGER_32, 32 bits, 1 element, inline
;   +28 the integer

        .equ ROUNDS, 5
        .equ MSG_SIZE, 32
        .equ MSG_MAX, 64
        .equ REQUEST_ID, 1000
        .equ INT32_ITEM, MACH_MSG_TYPE_INTEGER_32 | (32 << 8) | (1 << 16) | (1 << 28)
        .equ REQUEST_BITS, MACH_MSG_TYPE_COPY_SEND | (MACH_MSG_TYPE_MAKE_SEND_ONCE << 8)

        .text
_start:
        li    r11, 0                ; constant zero

lookup:
        li    r0, SYS_NETNAME_LOOK_UP
        la    r1, s_name
        li    r2, NAME_LEN
        li    r3, 0                 ; any host
        li    r4, 0
        trap
        beq   r0, r11, found
        li    r0, SYS_SLEEP         ; not checked in yet: try again in 10 ms
        li    r1, 10
        trap
        b     lookup
found:
        mov   r8, r1                ; send right to the server

        li    r0, SYS_PORT_ALLOCATE ; the reply port
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        bne   r0, r11, failed
        mov   r9, r1

        li    r12, 1                ; n
        la    r10, msg
round:
        li    r1, REQUEST_BITS
        stw   r1, [r10 + MSGH_BITS]
        li    r1, MSG_SIZE
        stw   r1, [r10 + MSGH_SIZE]
        stw   r8, [r10 + MSGH_REMOTE_PORT]
        stw   r9, [r10 + MSGH_LOCAL_PORT]
        stw   r11, [r10 + MSGH_SEQNO]
        li    r1, REQUEST_ID
        stw   r1, [r10 + MSGH_ID]
        li    r1, INT32_ITEM
        stw   r1, [r10 + MSGH_BODY]
        stw   r12, [r10 + MSGH_BODY + 4]

        la    r1, s_ping            ; "client: ping <n>"
        call  puts
        mov   r1, r12
        call  print_dec
        la    r1, s_nl
        call  puts

        li    r0, SYS_MACH_MSG      ; send, then receive the reply on the reply port
        mov   r1, r10
        li    r2, MACH_SEND_MSG | MACH_RCV_MSG
        li    r3, MSG_SIZE
        li    r4, MSG_MAX
        mov   r5, r9
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed

        la    r1, s_pong            ; "client: pong <value> (id <id>)"
        call  puts
        ldw   r1, [r10 + MSGH_BODY + 4]
        call  print_dec
        la    r1, s_id
        call  puts
        ldw   r1, [r10 + MSGH_ID]
        call  print_dec
        la    r1, s_close
        call  puts

        addi  r12, r12, 1
        li    r1, ROUNDS
        ble   r12, r1, round

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
s_ping:     .asciz "client: ping "
s_pong:     .asciz "client: pong "
s_id:       .asciz " (id "
s_close:    .asciz ")\n"
s_done:     .asciz "client: done\n"
s_failed:   .asciz "client: failed with "
s_nl:       .asciz "\n"

        .bss
        .align 4
msg:    .space MSG_MAX

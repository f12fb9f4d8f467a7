//go:build !purego

#include "textflag.h"

// func classMasksAVX2(b []byte, w, s []uint64) int
//
// For each whole 64-byte block i of b while i < len(w) and i < len(s):
// bit j of w[i] is set when b[64i+j] is an ASCII letter, a digit, an
// apostrophe or >= 0x80; bit j of s[i] when it is an apostrophe or
// >= 0x80.
TEXT ·classMasksAVX2(SB), NOSPLIT, $0-80
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	SHRQ $6, CX
	MOVQ w_base+24(FP), DI
	MOVQ w_len+32(FP), AX
	CMPQ AX, CX
	CMOVQLT AX, CX
	MOVQ s_base+48(FP), R8
	MOVQ s_len+56(FP), AX
	CMPQ AX, CX
	CMOVQLT AX, CX
	MOVQ CX, ret+72(FP)

	MOVL $0x20202020, AX
	MOVL AX, X0
	VPBROADCASTD X0, Y0 // 0x20: folds ASCII case
	MOVL $0x1f1f1f1f, AX
	MOVL AX, X1
	VPBROADCASTD X1, Y1 // 'a' + 0x1f = 0x80
	MOVL $0x9a9a9a9a, AX
	MOVL AX, X2
	VPBROADCASTD X2, Y2 // -102: letters map below it
	MOVL $0x50505050, AX
	MOVL AX, X3
	VPBROADCASTD X3, Y3 // '0' + 0x50 = 0x80
	MOVL $0x8a8a8a8a, AX
	MOVL AX, X4
	VPBROADCASTD X4, Y4 // -118: digits map below it
	MOVL $0x27272727, AX
	MOVL AX, X5
	VPBROADCASTD X5, Y5 // '\''
	XORQ DX, DX
	MOVQ SI, R13

loop:
	CMPQ DX, CX
	JGE  done
	VMOVDQU (R13), Y6
	VMOVDQU 32(R13), Y7

	VPOR     Y0, Y6, Y8
	VPADDB   Y1, Y8, Y8
	VPCMPGTB Y8, Y2, Y8  // letter
	VPADDB   Y3, Y6, Y9
	VPCMPGTB Y9, Y4, Y9  // digit
	VPCMPEQB Y5, Y6, Y10 // apostrophe
	VPOR     Y10, Y6, Y10 // special: apostrophe, or the sign bit of a high byte
	VPOR     Y8, Y9, Y8
	VPOR     Y10, Y8, Y8
	VPMOVMSKB Y8, R9
	VPMOVMSKB Y10, R10

	VPOR     Y0, Y7, Y8
	VPADDB   Y1, Y8, Y8
	VPCMPGTB Y8, Y2, Y8
	VPADDB   Y3, Y7, Y9
	VPCMPGTB Y9, Y4, Y9
	VPCMPEQB Y5, Y7, Y10
	VPOR     Y10, Y7, Y10
	VPOR     Y8, Y9, Y8
	VPOR     Y10, Y8, Y8
	VPMOVMSKB Y8, R11
	VPMOVMSKB Y10, R12

	SHLQ $32, R11
	ORQ  R11, R9
	SHLQ $32, R12
	ORQ  R12, R10
	MOVQ R9, (DI)(DX*8)
	MOVQ R10, (R8)(DX*8)
	INCQ DX
	ADDQ $64, R13
	JMP  loop

done:
	VZEROUPPER
	RET

//go:build !purego

#include "textflag.h"

// func anchorsAVX2(b []byte, from int, out []int) (n, next int)
//
// For each position p in [from, len(b)) taken 32 at a time while a whole
// block fits, records p in out when b[p] is k or K and b[p-1] is o, O or a
// byte with its high bit set (the tail of an invisible character). Stops
// early when out has fewer than 32 free slots. from must be at least 1.
TEXT ·anchorsAVX2(SB), NOSPLIT, $0-72
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ from+24(FP), DI
	MOVQ out_base+32(FP), R8
	MOVQ out_len+40(FP), R9
	XORQ R10, R10

	MOVL $0x20202020, AX
	MOVL AX, X0
	VPBROADCASTD X0, Y0 // 0x20 in every byte: folds ASCII case
	MOVL $0x6b6b6b6b, AX
	MOVL AX, X1
	VPBROADCASTD X1, Y1 // 'k'
	MOVL $0x6f6f6f6f, AX
	MOVL AX, X2
	VPBROADCASTD X2, Y2 // 'o'

loop:
	LEAQ 32(DI), AX
	CMPQ AX, BX
	JA   done
	LEAQ 32(R10), AX
	CMPQ AX, R9
	JA   done
	VMOVDQU (SI)(DI*1), Y3   // b[p : p+32]
	VMOVDQU -1(SI)(DI*1), Y4 // b[p-1 : p+31]
	VPOR     Y0, Y3, Y3
	VPCMPEQB Y1, Y3, Y3      // k or K
	VPOR     Y0, Y4, Y5
	VPCMPEQB Y2, Y5, Y5      // o or O before it
	VPOR     Y4, Y5, Y5      // or a high byte before it (sign bit)
	VPAND    Y3, Y5, Y5
	VPMOVMSKB Y5, AX
	TESTL AX, AX
	JNZ  bits
	ADDQ $32, DI
	JMP  loop

bits:
	BSFL AX, CX
	ADDQ DI, CX
	MOVQ CX, (R8)(R10*8)
	INCQ R10
	LEAL -1(AX), CX
	ANDL CX, AX
	JNZ  bits
	ADDQ $32, DI
	JMP  loop

done:
	VZEROUPPER
	MOVQ R10, n+56(FP)
	MOVQ DI, next+64(FP)
	RET

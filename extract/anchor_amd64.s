//go:build !purego

#include "textflag.h"

// func anchorsAVX2(b []byte, from int, out []int, keys []int) (n, nk, next int)
//
// For each position p in [from, len(b)) taken 32 at a time while a whole
// block fits, records p in out when b[p] is k or K and b[p-1] is o, O or a
// byte with its high bit set (the tail of an invisible character), and p
// in keys when b[p] is '_' and b[p-1] is 'r' (as in "error_code"). Stops
// early when out or keys has fewer than 32 free slots. from must be at
// least 1.
TEXT ·anchorsAVX2(SB), NOSPLIT, $0-104
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ from+24(FP), DI
	MOVQ out_base+32(FP), R8
	MOVQ out_len+40(FP), R9
	MOVQ keys_base+56(FP), R11
	MOVQ keys_len+64(FP), R12
	XORQ R10, R10 // n
	XORQ R13, R13 // nk

	MOVL $0x20202020, AX
	MOVL AX, X0
	VPBROADCASTD X0, Y0 // 0x20 in every byte: folds ASCII case
	MOVL $0x6b6b6b6b, AX
	MOVL AX, X1
	VPBROADCASTD X1, Y1 // 'k'
	MOVL $0x6f6f6f6f, AX
	MOVL AX, X2
	VPBROADCASTD X2, Y2 // 'o'
	MOVL $0x5f5f5f5f, AX
	MOVL AX, X9
	VPBROADCASTD X9, Y9 // '_'
	MOVL $0x72727272, AX
	MOVL AX, X10
	VPBROADCASTD X10, Y10 // 'r'

loop:
	LEAQ 32(DI), AX
	CMPQ AX, BX
	JA   done
	LEAQ 32(R10), AX
	CMPQ AX, R9
	JA   done
	LEAQ 32(R13), AX
	CMPQ AX, R12
	JA   done
	VMOVDQU (SI)(DI*1), Y3   // b[p : p+32]
	VMOVDQU -1(SI)(DI*1), Y4 // b[p-1 : p+31]
	VPOR      Y0, Y3, Y5
	VPCMPEQB  Y1, Y5, Y5      // k or K
	VPOR      Y0, Y4, Y6
	VPCMPEQB  Y2, Y6, Y6      // o or O before it
	VPOR      Y4, Y6, Y6      // or a high byte before it (sign bit)
	VPAND     Y5, Y6, Y6
	VPMOVMSKB Y6, AX
	VPCMPEQB  Y9, Y3, Y7      // '_'
	VPCMPEQB  Y10, Y4, Y8     // 'r' before it
	VPAND     Y7, Y8, Y8
	VPMOVMSKB Y8, DX
	MOVL AX, CX
	ORL  DX, CX
	JNZ  found
	ADDQ $32, DI
	JMP  loop

found:
	TESTL AX, AX
	JZ    keysbits

anchorbits:
	BSFL AX, CX
	ADDQ DI, CX
	MOVQ CX, (R8)(R10*8)
	INCQ R10
	LEAL -1(AX), CX
	ANDL CX, AX
	JNZ  anchorbits

keysbits:
	TESTL DX, DX
	JZ    next

keybits:
	BSFL DX, CX
	ADDQ DI, CX
	MOVQ CX, (R11)(R13*8)
	INCQ R13
	LEAL -1(DX), CX
	ANDL CX, DX
	JNZ  keybits

next:
	ADDQ $32, DI
	JMP  loop

done:
	VZEROUPPER
	MOVQ R10, n+80(FP)
	MOVQ R13, nk+88(FP)
	MOVQ DI, next+96(FP)
	RET

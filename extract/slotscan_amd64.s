//go:build !purego

#include "textflag.h"

// func slotScanAMD64(w *uint64, n int, carry uint64, long, maxAnchor int, text *byte, slots *uint16, hits *int32) (k int, carryOut uint64)
//
// slotScanGo for n blocks: w[0..n] are the run masks (w[n] only as the
// next block of the last), text the first block's bytes. For each run
// starting in a block with at least long bytes (4 <= long <= 63), at
// most maxAnchor, it hashes the run's first four bytes (each ORed with
// 0x20) and its length as slotKey does and records the run's offset
// (below 1<<16) ORed with its length << 16 in hits when slots has an
// entry there.
TEXT ·slotScanAMD64(SB), NOSPLIT, $0-80
	MOVQ w+0(FP), SI
	MOVQ n+8(FP), R13
	MOVQ carry+16(FP), R8
	MOVQ text+40(FP), DI
	MOVQ slots+48(FP), R11
	MOVQ hits+56(FP), R12

block:
	TESTQ R13, R13
	JZ    done
	MOVQ  (SI), BX  // W
	MOVQ  8(SI), DX // the next block's W
	MOVQ  BX, AX
	SHLQ  $1, AX
	ORQ   R8, AX
	NOTQ  AX
	ANDQ  BX, AX    // run starts
	MOVQ  BX, R8
	SHRQ  $63, R8   // the carry into the next block
	MOVQ  long+24(FP), CX
	DECQ  CX

long:
	// Keep the starts whose run goes on for CX more bytes.
	MOVQ BX, R9
	SHRQ CX, DX, R9 // W>>CX | next<<(64-CX)
	ANDQ R9, AX
	DECQ CX
	JNZ  long

cands:
	TESTQ AX, AX
	JZ    nextblock
	BSFQ  AX, CX    // j
	LEAQ  -1(AX), R9
	ANDQ  R9, AX
	MOVQ  BX, R9
	SHRQ  CX, DX, R9 // the run bits from j on (a count of 0 shifts nothing)
	NOTQ  R9
	BSFQ  R9, R9     // the run's length; none when it passes the next block
	JZ    cands
	CMPQ  R9, maxAnchor+32(FP)
	JA    cands
	MOVL  (DI)(CX*1), R10
	ORL   $0x20202020, R10
	IMUL3L $-1640531535, R10, R10 // 0x9E3779B1
	IMUL3L $-2048144777, R9, R14  // 0x85EBCA77
	ADDL  R14, R10
	SHRL  $18, R10                // 32 - slotBits
	MOVWLZX (R11)(R10*2), R14
	TESTL R14, R14
	JZ    cands
	MOVQ  DI, R14
	SUBQ  text+40(FP), R14
	ADDQ  CX, R14
	SHLQ  $16, R9
	ORQ   R9, R14 // offset | length<<16
	MOVL  R14, (R12)
	ADDQ  $4, R12
	JMP   cands

nextblock:
	ADDQ $8, SI
	ADDQ $64, DI
	DECQ R13
	JMP  block

done:
	MOVQ R12, AX
	SUBQ hits+56(FP), AX
	SHRQ $2, AX
	MOVQ AX, k+64(FP)
	MOVQ R8, carryOut+72(FP)
	RET

//go:build !purego

#include "textflag.h"

// func slotScanAMD64(w *uint64, n int, carry uint64, long, maxAnchor int, text *byte, present *uint64, hits *int32) (k int, carryOut uint64)
//
// slotScanGo for n blocks: w[0..n] are the run masks (w[n] only as the
// next block of the last), text the first block's bytes. For each run
// starting in a block with at least long bytes (4 <= long <= 63), at
// most maxAnchor, it hashes the run's first four bytes (each ORed with
// 0x20) and its length as slotHash does and records the run's offset
// (below 1<<16) ORed with its length << 16 in hits when the hash's top
// presenceBits bits name a set bit of present.
TEXT ·slotScanAMD64(SB), NOSPLIT, $0-80
	MOVQ w+0(FP), SI
	MOVQ n+8(FP), R13
	MOVQ carry+16(FP), R8
	MOVQ text+40(FP), DI
	MOVQ present+48(FP), R11
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
	SHRXQ CX, BX, R9  // W>>CX
	MOVQ  $64, R10
	SUBQ  CX, R10
	SHLXQ R10, DX, R10 // next<<(64-CX)
	ORQ   R10, R9
	ANDQ  R9, AX
	DECQ  CX
	JNZ   long

	// Run ends: E marks the last byte of each run that ends in this
	// block; a run that goes on into the next block ends where the
	// next block's first run does, 64 + TZCNT of its ends (R15).
	MOVQ   BX, R14
	SHRQ   $1, R14
	MOVQ   DX, R9
	SHLQ   $63, R9
	ORQ    R9, R14
	NOTQ   R14
	ANDQ   BX, R14 // E
	MOVQ   DX, R9
	SHRQ   $1, R9
	NOTQ   R9
	ANDQ   DX, R9
	TZCNTQ R9, R15
	ADDQ   $64, R15

cands:
	TESTQ  AX, AX
	JZ     nextblock
	TZCNTQ AX, CX      // j
	BLSRQ  AX, AX
	SHRXQ  CX, R14, R9 // the ends from j on
	TZCNTQ R9, R9      // the run's length - 1, or 64 when it goes on
	MOVQ   R15, R10
	SUBQ   CX, R10     // its length - 1 then
	CMPQ   R9, $64
	CMOVQEQ R10, R9
	INCQ   R9
	CMPQ   R9, maxAnchor+32(FP)
	JA     cands
	MOVL   (DI)(CX*1), R10
	ORL    $0x20202020, R10
	IMUL3L $-1640531535, R10, R10 // 0x9E3779B1
	IMUL3L $-2048144777, R9, DX   // 0x85EBCA77
	ADDL   DX, R10
	SHRL   $15, R10               // 32 - presenceBits
	MOVL   R10, DX
	SHRL   $5, DX
	MOVL   (R11)(DX*4), DX        // the 32 bits of present holding it
	BTL    R10, DX                // bit R10 mod 32
	JCC    cands
	MOVQ   DI, DX
	SUBQ   text+40(FP), DX
	ADDQ   CX, DX
	SHLQ   $16, R9
	ORQ    R9, DX // offset | length<<16
	MOVL   DX, (R12)
	ADDQ   $4, R12
	JMP    cands

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

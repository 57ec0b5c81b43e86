import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16BitsToF32, bfloat16ToFloat32Array, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, float16ToFloat32Array, float32ToBfloat16Array, float32ToFloat16Array } from '../src/index.js';

const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0]!;
const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

test('float32 → float16 bit patterns, hand-computed: rounding ties to even, subnormals, overflow, inf, nan', () => {
  const cases: [number, number, string][] = [
    [0, 0x0000, 'zero'],
    [-0, 0x8000, 'negative zero keeps its sign'],
    [1, 0x3c00, 'one'],
    [-2, 0xc000, 'minus two'],
    [0.1, 0x2e66, '0.1 rounds to 0.0999755859375'],
    [1 / 3, 0x3555, 'a third'],
    [1 + 2 ** -11, 0x3c00, 'tie between 0x3c00 and 0x3c01 goes to the even mantissa'],
    [1 + 3 * 2 ** -11, 0x3c02, 'tie between 0x3c01 and 0x3c02 goes to the even mantissa'],
    [1 + 2 ** -11 + 2 ** -20, 0x3c01, 'just above the tie rounds up'],
    [2047.5, 0x6800, 'halves in [1024, 2048) are 1 apart: a tie between 2047 (odd mantissa) and 2048 → 2048'],
    [65504, 0x7bff, 'largest finite half'],
    [65519, 0x7bff, 'below the half-way point to 65536 stays finite'],
    [65520, 0x7c00, 'the tie at 65520 rounds to even: infinity'],
    [1e30, 0x7c00, 'overflow is +inf'],
    [-1e30, 0xfc00, 'overflow is -inf'],
    [Infinity, 0x7c00, '+inf'],
    [-Infinity, 0xfc00, '-inf'],
    [2 ** -14, 0x0400, 'smallest normal'],
    [1023 * 2 ** -24, 0x03ff, 'largest subnormal'],
    [1023.5 * 2 ** -24, 0x0400, 'tie above the largest subnormal rounds up (odd) into the normals'],
    [2 ** -24, 0x0001, 'smallest subnormal'],
    [1.5 * 2 ** -24, 0x0002, 'subnormal tie between 1 (odd) and 2 → 2'],
    [2.5 * 2 ** -24, 0x0002, 'subnormal tie between 2 (even) and 3 → 2'],
    [2 ** -25, 0x0000, 'half the smallest subnormal ties to even: zero'],
    [-(2 ** -25), 0x8000, 'and keeps the sign'],
    [2 ** -25 * 1.0000001, 0x0001, 'just above half the smallest subnormal'],
    [1e-10, 0x0000, 'underflow'],
  ];
  for (const [x, bits, why] of cases) assert.equal(hex(f32ToF16Bits(x)), hex(bits), `${x}: ${why}`);
  assert.equal(f32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(f32ToF16Bits(NaN) & 0x03ff, 0, 'NaN stays NaN');
  assert.equal(hex(f32ToF16Bits(fromBits(0x7f800001))), '0x7e00', 'a signalling NaN becomes quiet');
});

test('float16 → float32 is exact for every one of the 65536 patterns and round-trips', () => {
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16BitsToF32(0x0400), 2 ** -14);
  assert.equal(f16BitsToF32(0x7bff), 65504);
  assert.equal(f16BitsToF32(0x3555), 0.333251953125);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
  assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const f = float16ToFloat32Array(all);
  const back = float32ToFloat16Array(f);
  for (let h = 0; h < 65536; h++) {
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    const expected = e === 0x1f ? (m ? NaN : Infinity) : e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
    const v = f[h]!;
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(v), hex(h));
    else assert.equal(v, h & 0x8000 ? -expected : expected, hex(h));
    if (!Number.isNaN(expected)) assert.equal(back[h], h, `${hex(h)} round trip`);
  }
});

test('float32 → bfloat16: round to nearest even on the dropped 16 bits, f32 subnormals kept, nan quiet', () => {
  const cases: [number, number, string][] = [
    [0x3f800000, 0x3f80, 'one'],
    [0x40490fdb, 0x4049, 'pi → 3.140625 (dropped bits below half)'],
    [0x3f808000, 0x3f80, 'exact tie, even stays'],
    [0x3f818000, 0x3f82, 'exact tie, odd rounds up to even'],
    [0x3f808001, 0x3f81, 'just above the tie'],
    [0x3f807fff, 0x3f80, 'just below the tie'],
    [0x7f7fffff, 0x7f80, 'f32 max rounds to +inf'],
    [0xff7f8000, 0xff80, 'tie at the top rounds to -inf'],
    [0x7f800000, 0x7f80, '+inf'],
    [0xff800000, 0xff80, '-inf'],
    [0x80000000, 0x8000, '-0'],
    [0x00010000, 0x0001, 'an f32 subnormal that is exactly a bf16 subnormal'],
    [0x00008000, 0x0000, 'subnormal tie to even (zero)'],
    [0x00018000, 0x0002, 'subnormal tie to even (two)'],
    [0x7fc00000, 0x7fc0, 'quiet NaN'],
    [0x7f800001, 0x7fc0, 'signalling NaN becomes quiet, not inf'],
    [0xffc00000, 0xffc0, 'negative NaN keeps its sign'],
  ];
  for (const [bits, want, why] of cases) assert.equal(hex(f32ToBf16Bits(fromBits(bits))), hex(want), `${hex(bits >>> 0)}: ${why}`);
  assert.equal(bf16BitsToF32(0x4049), 3.140625);
  assert.equal(bf16BitsToF32(0x0001), 2 ** -133);
  assert.equal(bf16BitsToF32(0xff80), -Infinity);
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const back = float32ToBfloat16Array(bfloat16ToFloat32Array(all));
  for (let h = 0; h < 65536; h++) {
    const isNan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    assert.equal(back[h], isNan ? h | 0x40 : h, hex(h));
  }
});

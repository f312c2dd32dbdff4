package io.laminar.storage.store.s3;

/**
 * Combines CRC32C values: the CRC32C of {@code A} followed by {@code B} from the CRC32C of {@code A},
 * the CRC32C of {@code B} and the length of {@code B}, in O(log length) steps and without the bytes.
 * So the parts of an upload are checksummed once each, on the threads that send them, and the
 * full-object CRC32C that the completion states is their combination.
 *
 * <p>The method is zlib's {@code crc32_combine}: appending {@code n} zero bytes to a message
 * multiplies its (reflected) CRC register by {@code x^(8n)} modulo the CRC's polynomial, so
 * {@code crc(A || B) = crc(A) * x^(8 |B|) mod P  xor  crc(B)}, with the initial and final
 * inversions of CRC32C cancelling out as they do for CRC-32. Here {@code P} is the Castagnoli
 * polynomial, reflected {@code 0x82F63B78}.
 *
 * <p>Stateless; thread-safe.
 */
final class Crc32c {

    /** The Castagnoli polynomial, reflected. */
    private static final int POLY = 0x82F63B78;
    /** {@code X2N[k]} is {@code x^(2^k)} modulo the polynomial. */
    private static final int[] X2N = new int[32];

    static {
        int p = 1 << 30; // x^1
        X2N[0] = p;
        for (int k = 1; k < 32; k++) {
            p = multiply(p, p);
            X2N[k] = p;
        }
    }

    private Crc32c() {
    }

    /**
     * The CRC32C of the bytes whose first part has CRC32C {@code first} and whose second part, of
     * {@code secondLength} bytes, has CRC32C {@code second}.
     */
    static int combine(int first, int second, long secondLength) {
        if (secondLength < 0) {
            throw new IllegalArgumentException("secondLength must not be negative, but was " + secondLength);
        }
        return multiply(xToThe8n(secondLength), first) ^ second;
    }

    /** {@code a * b} modulo the polynomial, both reflected (bit 31 is x^0). */
    private static int multiply(int a, int b) {
        int m = 1 << 31;
        int product = 0;
        while (true) {
            if ((a & m) != 0) {
                product ^= b;
                if ((a & (m - 1)) == 0) {
                    return product;
                }
            }
            m >>>= 1;
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
        }
    }

    /** {@code x^(8n)} modulo the polynomial. */
    private static int xToThe8n(long n) {
        int p = 1 << 31; // x^0
        int k = 3; // 8n = n * 2^3
        while (n != 0) {
            if ((n & 1) != 0) {
                p = multiply(X2N[k & 31], p);
            }
            n >>>= 1;
            k++;
        }
        return p;
    }
}

package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Every way a header can be wrong gets a SafetensorsException naming the file, the tensor and the problem. */
class SafetensorsValidationTest {
    @TempDir Path tmp;

    static final String GOOD = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]},"
            + "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}";

    private SafetensorsException fails(String header, int dataBytes, String tensor, String... mentions) throws Exception {
        Path p = TestFiles.write(tmp, "bad.safetensors", header, TestFiles.seq(dataBytes));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains("bad.safetensors"), e.getMessage());
        assertEquals(tensor, e.tensor(), e.getMessage());
        for (String m : mentions) assertTrue(e.getMessage().contains(m), "'" + m + "' in: " + e.getMessage());
        return e;
    }

    @Test void goodHeaderLoads() throws Exception {
        Path p = TestFiles.write(tmp, "good.safetensors", GOOD, TestFiles.seq(32));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(3, f.tensorNames().size());
        }
    }

    @Test void headerLengthMustFitTheFile() throws Exception {
        Path p = tmp.resolve("bad.safetensors");
        byte[] b = TestFiles.bytes(GOOD, TestFiles.seq(32));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, b.length); // longer than the file
        Files.write(p, b);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("header length"), e.getMessage());
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L); // 2^64-1 unsigned
        Files.write(p, b);
        e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("18446744073709551615"), e.getMessage());
        Files.write(p, new byte[]{1, 2, 3});
        e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("3 bytes"), e.getMessage());
        Files.write(p, new byte[0]);
        assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
    }

    @Test void headerMustBeJsonObjectOfTheRightShape() throws Exception {
        fails("{\"w\":{\"dtype\":\"F16\"", 0, null, "not valid JSON");
        fails("[1,2,3]", 0, null, "JSON object");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}} trailing", 2, null, "JSON");
        fails("{\"w\":[1,2]}", 0, "w", "must be an object");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2],\"extra\":1}}", 2, "w", "extra");
        fails("{\"w\":{\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "w", "dtype");
        fails("{\"w\":{\"dtype\":\"F16\",\"data_offsets\":[0,2]}}", 2, "w", "shape");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[1]}}", 2, "w", "data_offsets");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0]}}", 2, "w", "data_offsets", "2 entries");
        fails("{\"__metadata__\":{\"format\":1}}", 0, null, "__metadata__", "format");
        fails("{\"__metadata__\":[\"x\"]}", 0, null, "__metadata__");
        Path p = tmp.resolve("bad.safetensors");
        byte[] b = TestFiles.bytes("{\"w\":1}", new byte[0]);
        b[9] = (byte) 0xC3; // half a UTF-8 sequence
        Files.write(p, b);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }

    @Test void duplicateNamesAreRejected() throws Exception {
        fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, null, "Duplicate", "w");
    }

    @Test void dtypeMustBeKnown() throws Exception {
        fails("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "w", "F8_E4M3", "dtype");
        fails("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "w", "dtype");
    }

    @Test void shapesMustBeNonNegativeIntegers() throws Exception {
        fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1, "w", "-1", "non-negative integer");
        fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,1]}}", 1, "w", "2.5");
        fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[\"2\"],\"data_offsets\":[0,1]}}", 1, "w", "shape");
        fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,1]}}", 1, "w", "shape");
        fails("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1, "w", "too large");
    }

    @Test void offsetsMustBeInsideTheDataAreaAndMatchTheShape() throws Exception {
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 3, "w", "past the data area", "truncated");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,0]}}", 4, "w", "end before");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,6]}}", 6, "w", "needs 4 bytes", "span 6");
        fails("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[-2,2]}}", 6, "w", "data_offsets");
        fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[1,4]}}", 4, "b", "overlap", "'a'");
    }

    // ------------------------------------------------------------------ fuzzing

    /** Loads or throws SafetensorsException; a load must then read every tensor without surprises. */
    private static void loadOrReject(byte[] bytes, String what) {
        try (SafetensorsFile f = SafetensorsFile.parse(Path.of("fuzz.safetensors"), MemorySegment.ofArray(bytes))) {
            for (String n : f.tensorNames()) {
                TensorView v = f.tensor(n);
                if (v.numel() > 0 && v.numel() < 1_000_000) v.getFloat(v.numel() - 1);
            }
            f.metadata().size();
        } catch (SafetensorsException expected) {
            assertNotNull(expected.getMessage());
            assertTrue(expected.getMessage().startsWith("fuzz.safetensors"), expected.getMessage());
        } catch (Throwable t) {
            fail("mutation '" + what + "' escaped as " + t, t);
        }
    }

    @Test void fuzzedByteFlipsAndTruncationsLoadOrThrowOurException() {
        byte[] good = TestFiles.bytes(GOOD + "    ", TestFiles.seq(32));
        SplittableRandom r = new SplittableRandom(20261121);
        int n = 0;
        for (int i = 0; i < 4000; i++) {
            byte[] b = good.clone();
            String what;
            switch (i % 4) {
                case 0 -> { // flip 1-3 random bytes anywhere in the header region (length field included)
                    int flips = 1 + r.nextInt(3);
                    StringBuilder sb = new StringBuilder("flip");
                    for (int k = 0; k < flips; k++) {
                        int pos = r.nextInt(8 + GOOD.length());
                        b[pos] ^= (byte) (1 << r.nextInt(8));
                        sb.append(' ').append(pos);
                    }
                    what = sb.toString();
                }
                case 1 -> { // replace a byte of the JSON with a structural character or digit
                    int pos = 8 + r.nextInt(GOOD.length());
                    byte c = (byte) "{}[],:\"0123456789-.e \\"
                            .charAt(r.nextInt(22));
                    b[pos] = c;
                    what = "set " + pos + " to '" + (char) c + "'";
                }
                case 2 -> { // truncate
                    int len = r.nextInt(good.length);
                    b = Arrays.copyOf(good, len);
                    what = "truncate to " + len;
                }
                default -> { // rewrite the header length to a random value near or far from the truth
                    long len = switch (r.nextInt(3)) {
                        case 0 -> GOOD.length() + 4 + r.nextInt(-40, 40);
                        case 1 -> r.nextLong();
                        default -> r.nextInt(good.length + 16);
                    };
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, len);
                    what = "header length " + len;
                }
            }
            loadOrReject(b, what);
            n++;
        }
        assertEquals(4000, n);
    }

    @Test void fuzzedRandomJsonHeadersLoadOrThrowOurException() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 3000; i++) {
            String header;
            if (i % 2 == 0) {
                header = randomJson(r, 0);
            } else {
                // Plausible entries with random field values: exercises the semantic checks.
                StringBuilder sb = new StringBuilder("{");
                int entries = r.nextInt(4);
                for (int e = 0; e < entries; e++) {
                    if (e > 0) sb.append(',');
                    sb.append('"').append(r.nextBoolean() ? "t" + e : "t" + r.nextInt(2)).append("\":{");
                    sb.append("\"dtype\":").append(r.nextInt(6) == 0 ? randomJson(r, 2)
                            : "\"" + DType.values()[r.nextInt(DType.values().length)].safetensorsName() + "\"");
                    sb.append(",\"shape\":").append(r.nextInt(6) == 0 ? randomJson(r, 2) : randomIntArray(r, r.nextInt(4)));
                    sb.append(",\"data_offsets\":").append(r.nextInt(6) == 0 ? randomJson(r, 2) : randomIntArray(r, 2));
                    sb.append('}');
                }
                if (r.nextInt(4) == 0) sb.append(entries > 0 ? "," : "").append("\"__metadata__\":").append(randomJson(r, 1));
                sb.append('}');
                header = sb.toString();
            }
            loadOrReject(TestFiles.bytes(header, TestFiles.seq(r.nextInt(64))), header);
        }
    }

    private static String randomIntArray(SplittableRandom r, int len) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < len; i++) {
            if (i > 0) sb.append(',');
            sb.append(switch (r.nextInt(8)) {
                case 0 -> Long.toString(r.nextLong());
                case 1 -> "-" + r.nextInt(5);
                case 2 -> "1.5";
                default -> Integer.toString(r.nextInt(40));
            });
        }
        return sb.append(']').toString();
    }

    private static String randomJson(SplittableRandom r, int depth) {
        int kind = depth > 4 ? r.nextInt(5) : r.nextInt(7);
        return switch (kind) {
            case 0 -> "null";
            case 1 -> r.nextBoolean() ? "true" : "false";
            case 2 -> Long.toString(r.nextLong() >> r.nextInt(64));
            case 3 -> Double.toString(r.nextDouble() * 100);
            case 4 -> "\"" + (char) ('a' + r.nextInt(26)) + (r.nextBoolean() ? "\\u00e9" : "") + "\"";
            case 5 -> {
                StringBuilder sb = new StringBuilder("[");
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) sb.append(i > 0 ? "," : "").append(randomJson(r, depth + 1));
                yield sb.append(']').toString();
            }
            default -> {
                StringBuilder sb = new StringBuilder("{");
                int n = r.nextInt(4);
                String[] keys = {"dtype", "shape", "data_offsets", "__metadata__", "w", "x"};
                for (int i = 0; i < n; i++) {
                    sb.append(i > 0 ? "," : "").append('"').append(keys[r.nextInt(keys.length)]).append("\":")
                            .append(randomJson(r, depth + 1));
                }
                yield sb.append('}').toString();
            }
        };
    }

    @Test void fuzzedTinyModelHeaderFlips() throws Exception {
        // The real header (about 6 KB of JSON) with random flips: deeper structures than the hand-made one.
        byte[] real = Files.readAllBytes(TestFiles.tinyModel().resolve("model.safetensors"));
        long headerLen = ByteBuffer.wrap(real).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 300; i++) {
            int pos = 8 + r.nextInt((int) headerLen);
            byte original = real[pos];
            real[pos] = (byte) r.nextInt(256);
            loadOrReject(real, "tiny flip at " + pos + " -> " + new String(new byte[]{real[pos]}, StandardCharsets.ISO_8859_1));
            real[pos] = original; // restore instead of copying 16 MB per case
        }
    }
}

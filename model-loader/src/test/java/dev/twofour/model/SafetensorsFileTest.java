package dev.twofour.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsFileTest {
    @TempDir Path tmp;

    @Test void readsTheTinyModel() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(TestFiles.tinyModel().resolve("model.safetensors"))) {
            assertTrue(f.contains("model.embed_tokens.weight"));
            TensorView e = f.tensor("model.embed_tokens.weight");
            assertEquals(DType.F16, e.dtype());
            assertArrayEquals(new long[]{8192, 256}, e.shape());
            assertEquals(8192L * 256 * 2, e.byteSize());
            float[] all = e.toFloatArray();
            float[] row = new float[256];
            e.readFloats(5 * 256, row, 0, 256);
            for (int i = 0; i < 256; i++) assertEquals(all[5 * 256 + i], row[i]);
            assertEquals(all[1234], e.getFloat(1234));
            double sumSq = 0;
            for (float v : all) { assertTrue(Float.isFinite(v)); sumSq += v * v; }
            assertTrue(sumSq > 0, "weights are not all zero");
            // 8 layers × 9 tensors + embed + norm (tied: no lm_head)
            assertEquals(8 * 9 + 2, f.tensorNames().size());
        }
    }

    @Test void allDtypesAndMetadataAreRead() throws Exception {
        String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
                + "\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"f32\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]},"
                + "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]},"
                + "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[32,40]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[40,44]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[44,46]},"
                + "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[46,47]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[47,48]},"
                + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[48,50]},"
                + "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[50,50]},"
                + "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[50,54]}}";
        ByteBuffer d = ByteBuffer.allocate(54).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(1.5).putDouble(-2.25).putFloat(3.5f).putFloat(-0.125f)
                .putShort(Half.fromFloat(0.5f)).putShort(Half.fromFloat(-3f))
                .putShort(Bf16.fromFloat(2f)).putShort(Bf16.fromFloat(-7f))
                .putLong(-9).putInt(123456).putShort((short) -300).put((byte) -5).put((byte) 200)
                .put((byte) 1).put((byte) 0).putFloat(42f);
        Path p = TestFiles.write(tmp, "all.safetensors", header, d.array());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(Map.of("format", "pt", "note", "x"), f.metadata());
            assertEquals(List.of("f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool", "empty", "scalar"),
                    f.tensorNames());
            assertArrayEquals(new float[]{1.5f, -2.25f}, f.tensor("f64").toFloatArray());
            assertArrayEquals(new float[]{3.5f, -0.125f}, f.tensor("f32").toFloatArray());
            assertArrayEquals(new float[]{0.5f, -3f}, f.tensor("f16").toFloatArray());
            assertArrayEquals(new float[]{2f, -7f}, f.tensor("bf16").toFloatArray());
            assertEquals(-9f, f.tensor("i64").getFloat(0));
            assertEquals(123456f, f.tensor("i32").getFloat(0));
            assertEquals(-300f, f.tensor("i16").getFloat(0));
            assertEquals(-5f, f.tensor("i8").getFloat(0));
            assertEquals(200f, f.tensor("u8").getFloat(0));
            assertArrayEquals(new float[]{1f, 0f}, f.tensor("bool").toFloatArray());
            assertEquals(0, f.tensor("empty").numel());
            assertEquals(1, f.tensor("scalar").numel());
            assertEquals(42f, f.tensor("scalar").getFloat(0));
            assertEquals(DType.I64, f.dtype("i64"));
            assertThrows(IllegalArgumentException.class, () -> f.tensor("nope"));
            assertThrows(IndexOutOfBoundsException.class, () -> f.tensor("f16").getFloat(2));
        }
    }

    @Test void viewsAreZeroCopyAndDieWithTheFile() throws Exception {
        Path p = TestFiles.write(tmp, "a.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ", TestFiles.seq(8));
        SafetensorsFile f = SafetensorsFile.open(p);
        TensorView v = f.tensor("a");
        assertTrue(v.data().isNative() && v.data().isReadOnly(), "a slice of the read-only mapping");
        float first = v.getFloat(0);
        assertEquals(first, f.tensor("a").getFloat(0));
        f.close();
        f.close(); // twice is harmless
        assertThrows(IllegalStateException.class, () -> v.getFloat(0));
        assertThrows(IllegalStateException.class, () -> f.tensor("a"));
    }

    @Test void filesLargerThan2GbAreMappedWhole() throws Exception {
        // A sparse file: 2^31 + 64 bytes of tensor data, of which only the ends are written.
        long n = (1L << 31) + 64;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + n + "],\"data_offsets\":[0," + n + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" + n + "," + (n + 4) + "]}}";
        Path p = tmp.resolve("big.safetensors");
        byte[] head = TestFiles.bytes(header, new byte[0]);
        try (var raf = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            raf.write(head);
            raf.setLength(head.length + n + 4);
            raf.seek(head.length + n - 1);
            raf.write(0x7F);
            raf.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(2.5f).array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorView big = f.tensor("big");
            assertEquals(n, big.numel());
            assertEquals(127f, big.getFloat(n - 1));
            assertEquals(0f, big.getFloat(1L << 31));
            assertEquals(2.5f, f.tensor("tail").getFloat(0));
            assertThrows(IllegalStateException.class, big::toFloatArray, "too many elements for one array: a clear error");
        }
    }

    @Test void holesBetweenTensorsAreAllowedButOverlapsAreNot() throws Exception {
        Path ok = TestFiles.write(tmp, "hole.safetensors",
                "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                        + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", TestFiles.seq(6));
        try (SafetensorsFile f = SafetensorsFile.open(ok)) {
            assertEquals(2, f.tensorNames().size());
        }
        Path bad = TestFiles.write(tmp, "overlap.safetensors",
                "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                        + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", TestFiles.seq(6));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(bad));
        assertEquals("b", e.tensor());
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
        assertTrue(e.getMessage().contains("overlap.safetensors"), e.getMessage());
    }
}

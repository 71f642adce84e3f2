package dev.twofour.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Status translation with the built-in tables (no library loaded on a CPU machine). */
class CudaExceptionTest {

    @Test void driverStatusNamesTheCallAndTheError() {
        CudaException e = CudaException.of(CudaException.Library.DRIVER, 2, "cuMemAlloc_v2", "allocating 42 bytes");
        assertEquals("cuMemAlloc_v2", e.call());
        assertEquals(2, e.status());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2) while allocating 42 bytes"),
                e.getMessage());
        assertTrue(e.getMessage().contains("free memory"), "a hint says what to do: " + e.getMessage());
    }

    @Test void builtInTablesCoverTheLibraries() {
        assertEquals("CUDA_ERROR_INVALID_VALUE", StatusNames.builtIn(CudaException.Library.DRIVER, 1));
        assertEquals("CUDA_ERROR_NO_DEVICE", StatusNames.builtIn(CudaException.Library.DRIVER, 100));
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", StatusNames.builtIn(CudaException.Library.DRIVER, 700));
        assertEquals("CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", StatusNames.builtIn(CudaException.Library.DRIVER, 901));
        assertEquals("CUDA_ERROR_UNKNOWN", StatusNames.builtIn(CudaException.Library.DRIVER, 999));
        assertEquals("CUBLAS_STATUS_EXECUTION_FAILED", StatusNames.builtIn(CudaException.Library.CUBLAS, 13));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", StatusNames.builtIn(CudaException.Library.CUBLAS, 7));
        assertEquals("CUSPARSE_STATUS_NOT_SUPPORTED", StatusNames.builtIn(CudaException.Library.CUSPARSELT, 10));
        assertEquals("CUSPARSE_STATUS_INTERNAL_ERROR", StatusNames.builtIn(CudaException.Library.CUSPARSELT, 7));
    }

    @Test void unknownCodesStillSayTheNumber() {
        CudaException e = CudaException.of(CudaException.Library.CUBLAS, 12345, "cublasGemmEx", null);
        assertEquals("UNKNOWN_STATUS_12345", e.errorName());
        assertEquals("cublasGemmEx failed: UNKNOWN_STATUS_12345 (12345)", e.getMessage());
    }

    @Test void libraryLookupWinsAndFallsBackWhenItDoesNotKnow() {
        var saved = StatusNames.cublasLookup;
        try {
            StatusNames.cublasLookup = s -> s == 14 ? "CUBLAS_STATUS_INTERNAL_ERROR_FROM_LIB" : "<unrecognized>";
            assertEquals("CUBLAS_STATUS_INTERNAL_ERROR_FROM_LIB", StatusNames.name(CudaException.Library.CUBLAS, 14));
            assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", StatusNames.name(CudaException.Library.CUBLAS, 15));
            StatusNames.cublasLookup = s -> { throw new IllegalStateException("boom"); };
            assertEquals("CUBLAS_STATUS_ALLOC_FAILED", StatusNames.name(CudaException.Library.CUBLAS, 3));
        } finally {
            StatusNames.cublasLookup = saved;
        }
    }

    @Test void checksPassOnSuccessOnly() {
        CudaException.checkDriver(0, "cuInit");
        assertThrows(CudaException.class, () -> CudaException.checkDriver(3, "cuCtxSynchronize"));
        CudaException e = assertThrows(CudaException.class, () -> CudaException.checkCusparseLt(3, "cusparseLtInit", "x"));
        assertEquals(CudaException.Library.CUSPARSELT, e.library());
        assertEquals("CUSPARSE_STATUS_INVALID_VALUE", e.errorName());
    }

    @Test void unavailableHasNoCall() {
        CudaException e = CudaException.unavailable("no GPU");
        assertNull(e.call());
        assertEquals(-1, e.status());
        assertEquals("no GPU", e.getMessage());
    }
}

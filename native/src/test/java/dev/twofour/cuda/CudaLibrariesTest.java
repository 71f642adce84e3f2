package dev.twofour.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Discovery over fake folder trees: empty files named like the libraries (nothing is loaded). */
class CudaLibrariesTest {
    @TempDir Path root;

    private void touch(String logical) throws IOException {
        Path p = root.resolve(logical.substring(1));
        Files.createDirectories(p.getParent());
        Files.write(p, new byte[0]);
    }

    private void write(String logical, String text) throws IOException {
        Path p = root.resolve(logical.substring(1));
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }

    private CudaLibraries discover(Map<String, String> env) {
        return CudaLibraries.discover(new SearchEnvironment(env, root, "/home/u", "/work/app"));
    }

    @Test void findsEachLibraryInItsDiscoveryStep() throws IOException {
        touch("/custom/b/libcuda.so.1");
        touch("/usr/local/cuda/lib64/libcublas.so.12");
        touch("/usr/local/cuda/lib64/libcublasLt.so.12");
        touch("/usr/lib/python3.11/site-packages/nvidia/cusparselt/lib/libcusparseLt.so.0");
        Files.createDirectories(root.resolve("custom/a"));

        CudaLibraries libs = discover(Map.of("TWOFOUR_CUDA_LIB_DIRS", "/custom/a:/custom/b"));

        CudaLibraries.Found driver = libs.find(CudaLibraries.Kind.DRIVER).orElseThrow();
        assertEquals("/custom/b", driver.folder());
        assertEquals("TWOFOUR_CUDA_LIB_DIRS", driver.source());
        assertEquals(root.resolve("custom/b/libcuda.so.1"), driver.path());

        CudaLibraries.Found cublas = libs.find(CudaLibraries.Kind.CUBLAS).orElseThrow();
        assertEquals("libcublas.so.12", cublas.soname());
        assertEquals("/usr/local/cuda/lib64", cublas.folder());
        assertEquals("libcublasLt.so.12", libs.find(CudaLibraries.Kind.CUBLASLT).orElseThrow().soname());

        CudaLibraries.Found lt = libs.find(CudaLibraries.Kind.CUSPARSELT).orElseThrow();
        assertEquals("/usr/lib/python3.11/site-packages/nvidia/cusparselt/lib", lt.folder());
        assertEquals("Python site-packages", lt.source());
    }

    @Test void newestSonameWinsOverEarlierFolder() throws IOException {
        touch("/usr/local/cuda/lib64/libcublas.so.12");
        touch("/usr/local/cuda/lib64/libcublasLt.so.12");
        touch("/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libcublas.so.13");
        touch("/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libcublasLt.so.13");

        CudaLibraries libs = discover(Map.of());

        CudaLibraries.Found cublas = libs.find(CudaLibraries.Kind.CUBLAS).orElseThrow();
        assertEquals("libcublas.so.13", cublas.soname());
        CudaLibraries.Found lt = libs.find(CudaLibraries.Kind.CUBLASLT).orElseThrow();
        assertEquals("libcublasLt.so.13", lt.soname(), "cuBLASLt must match cuBLAS's major version");
        assertEquals(cublas.folder(), lt.folder());
    }

    @Test void cublasLtOfTheSameMajorIsPreferredNextToCublas() throws IOException {
        touch("/opt/a/lib/libcublasLt.so.13");
        touch("/usr/local/cuda/lib64/libcublas.so.13");
        touch("/usr/local/cuda/lib64/libcublasLt.so.13");
        CudaLibraries libs = discover(Map.of("TWOFOUR_CUDA_LIB_DIRS", "/opt/a/lib"));
        assertEquals("/usr/local/cuda/lib64", libs.find(CudaLibraries.Kind.CUBLASLT).orElseThrow().folder());
    }

    @Test void searchOrderIsEnvThenLoaderThenCudaHomeThenUsrLocalThenPython() throws IOException {
        for (String d : List.of("/env", "/ld", "/conf.d/lib", "/cudahome/lib64", "/usr/local/cuda/lib64",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib/python3.10/site-packages/nvidia/cuda_runtime/lib")) {
            touch(d + "/libcuda.so.1");
        }
        write("/etc/ld.so.conf", "# comment\ninclude /etc/ld.so.conf.d/*.conf\n");
        write("/etc/ld.so.conf.d/x.conf", "/conf.d/lib\n");
        Map<String, String> env = new HashMap<>(Map.of("LD_LIBRARY_PATH", "/ld", "CUDA_HOME", "/cudahome/"));

        assertEquals("/ld", discover(env).find(CudaLibraries.Kind.DRIVER).orElseThrow().folder());
        env.put("TWOFOUR_CUDA_LIB_DIRS", "/env");
        assertEquals("/env", discover(env).find(CudaLibraries.Kind.DRIVER).orElseThrow().folder());

        List<String> order = discover(env).searched().stream().map(CudaLibraries.SearchedFolder::folder).toList();
        assertEquals(List.of("/env", "/ld", "/conf.d/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib", "/cudahome/lib64",
                "/usr/local/cuda/lib64", "/usr/lib/python3.10/site-packages/nvidia/cuda_runtime/lib"), order);
    }

    @Test void ldSoConfFolderBeatsCudaHome() throws IOException {
        touch("/conf.d/lib/libcuda.so.1");
        touch("/cudahome/lib64/libcuda.so.1");
        write("/etc/ld.so.conf", "include ld.so.conf.d/*.conf\n");
        write("/etc/ld.so.conf.d/nvidia.conf", "/conf.d/lib # the driver\n");
        CudaLibraries libs = discover(Map.of("CUDA_HOME", "/cudahome"));
        CudaLibraries.Found f = libs.find(CudaLibraries.Kind.DRIVER).orElseThrow();
        assertEquals("/conf.d/lib", f.folder());
        assertEquals("ld.so.conf", f.source());
    }

    @Test void findsVenvsUnderOptHomeAndVirtualEnv() throws IOException {
        touch("/opt/tools/.venv/lib/python3.12/site-packages/nvidia/cusparselt/lib/libcusparseLt.so.0");
        assertEquals("/opt/tools/.venv/lib/python3.12/site-packages/nvidia/cusparselt/lib",
                discover(Map.of()).find(CudaLibraries.Kind.CUSPARSELT).orElseThrow().folder());

        touch("/home/u/.local/lib/python3.11/site-packages/nvidia/cusparselt/lib/libcusparseLt.so.0");
        assertEquals("/home/u/.local/lib/python3.11/site-packages/nvidia/cusparselt/lib",
                discover(Map.of()).find(CudaLibraries.Kind.CUSPARSELT).orElseThrow().folder(),
                "the user's site-packages come before /opt");

        touch("/envs/v1/lib/python3.13/site-packages/nvidia/cusparselt/lib/libcusparseLt.so.0");
        assertEquals("/envs/v1/lib/python3.13/site-packages/nvidia/cusparselt/lib",
                discover(Map.of("VIRTUAL_ENV", "/envs/v1")).find(CudaLibraries.Kind.CUSPARSELT).orElseThrow().folder());
    }

    @Test void aFolderNamedLikeTheLibraryDoesNotCount() throws IOException {
        Files.createDirectories(root.resolve("usr/local/cuda/lib64/libcuda.so.1"));
        assertTrue(discover(Map.of()).find(CudaLibraries.Kind.DRIVER).isEmpty());
    }

    @Test void notFoundSaysWhatWasSearched() throws IOException {
        Files.createDirectories(root.resolve("usr/local/cuda/lib64"));
        Files.createDirectories(root.resolve("mine"));
        CudaLibraries libs = discover(Map.of("TWOFOUR_CUDA_LIB_DIRS", "/mine:/missing"));
        assertTrue(libs.find(CudaLibraries.Kind.CUSPARSELT).isEmpty());
        String msg = libs.describeSearch(CudaLibraries.Kind.CUSPARSELT);
        assertTrue(msg.contains("libcusparseLt.so.0 not found"), msg);
        assertTrue(msg.contains("/mine"), msg);
        assertTrue(msg.contains("/usr/local/cuda/lib64"), msg);
        assertFalse(msg.contains("/missing"), "folders that do not exist are not listed: " + msg);
        assertTrue(msg.contains("TWOFOUR_CUDA_LIB_DIRS"), msg);

        String cublasMsg = libs.describeSearch(CudaLibraries.Kind.CUBLAS);
        assertTrue(cublasMsg.startsWith("libcublas.so.13 or libcublas.so.12 not found"), cublasMsg);
    }

    @Test void emptyTreeReportsThatNoFolderExists() {
        CudaLibraries libs = discover(Map.of());
        assertTrue(libs.searched().isEmpty());
        assertTrue(libs.describeSearch(CudaLibraries.Kind.DRIVER).contains("no folders"));
    }

    @Test void fileVersionComesFromTheLinkTarget() throws IOException {
        touch("/usr/local/cuda/lib64/libcublas.so.13.0.2.14");
        touch("/usr/local/cuda/lib64/libcublasLt.so.13");
        Files.createSymbolicLink(root.resolve("usr/local/cuda/lib64/libcublas.so.13"),
                Path.of("libcublas.so.13.0.2.14"));
        CudaLibraries libs = discover(Map.of());
        assertEquals("13.0.2.14", libs.find(CudaLibraries.Kind.CUBLAS).orElseThrow().fileVersion());
        assertEquals("13", libs.find(CudaLibraries.Kind.CUBLASLT).orElseThrow().fileVersion());
    }

    @Test void danglingLinkIsIgnored() throws IOException {
        Files.createDirectories(root.resolve("usr/local/cuda/lib64"));
        Files.createSymbolicLink(root.resolve("usr/local/cuda/lib64/libcuda.so.1"), Path.of("libcuda.so.999"));
        assertTrue(discover(Map.of()).find(CudaLibraries.Kind.DRIVER).isEmpty());
    }

    @Test void relativeAndDuplicateEntriesAreSkipped() throws IOException {
        Files.createDirectories(root.resolve("a"));
        CudaLibraries libs = discover(Map.of("TWOFOUR_CUDA_LIB_DIRS", "rel/dir:/a:/a/", "LD_LIBRARY_PATH", "/a"));
        assertEquals(List.of(new CudaLibraries.SearchedFolder("/a", "TWOFOUR_CUDA_LIB_DIRS")), libs.searched());
    }

    @Test void globMatching() {
        assertTrue(CudaLibraries.globMatches("python3*", "python3.11"));
        assertTrue(CudaLibraries.globMatches("python3*", "python3"));
        assertFalse(CudaLibraries.globMatches("python3*", "python2.7"));
        assertTrue(CudaLibraries.globMatches("*.conf", "nvidia.conf"));
        assertFalse(CudaLibraries.globMatches("*.conf", "nvidia.conf.bak"));
        assertTrue(CudaLibraries.globMatches("a?c", "abc"));
    }
}

package dev.twofour.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The ./twofour launcher's JDK detection, with fake JDKs whose `java` only reports a version and echoes its args. */
class LauncherTest {
    @TempDir Path tmp;

    private static Path repo() {
        return Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
    }

    private Path fakeJdk(String name, String version) throws IOException {
        Path bin = Files.createDirectories(tmp.resolve(name).resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\n"
                + "if [ \"$1\" = \"-version\" ]; then echo 'openjdk version \"" + version + "\" 2025-10-21' >&2; exit 0; fi\n"
                + "echo \"FAKE-JAVA-" + name + " $*\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return tmp.resolve(name);
    }

    private record Result(int code, String out) {}

    private Result launch(Path javaHome, String... args) throws Exception {
        String[] cmd = new String[args.length + 2];
        cmd[0] = "bash";
        cmd[1] = repo().resolve("twofour").toString();
        System.arraycopy(args, 0, cmd, 2, args.length);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", javaHome.toString());
        pb.environment().put("TWOFOUR_NO_BUILD", "1");  // never start a Maven build from a test
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "launcher did not finish");
        return new Result(p.exitValue(), out);
    }

    @Test void aJdk25InJavaHomeIsUsedWithTheFlagsTheCliNeeds() throws Exception {
        Path jdk = fakeJdk("jdk25", "25.0.1");
        Result r = launch(jdk, "info", "--searched");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("FAKE-JAVA-jdk25"), r.out());
        assertTrue(r.out().contains("--enable-native-access=ALL-UNNAMED"), r.out());
        assertTrue(r.out().contains("--add-modules jdk.incubator.vector"), r.out());
        assertTrue(r.out().contains("dev.twofour.cli.Main info --searched"), r.out());
    }

    @Test void anOlderJdkInJavaHomeIsSkipped() throws Exception {
        Path jdk = fakeJdk("jdk17", "17.0.15");
        Result r = launch(jdk, "--version");
        assertFalse(r.out().contains("FAKE-JAVA-jdk17"), "a JDK 17 must not run the CLI: " + r.out());
        // ...and a real JDK 25 from /usr/lib/jvm did: it printed the version, or (no jar built yet in this test
        // phase) the JVM itself named the main class it could not find.
        assertTrue(r.out().contains("twofour 0.1.0") || r.out().contains("dev.twofour.cli.Main"), r.out());
    }
}

package dev.twofour.cuda;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * What library discovery looks at: environment variables, the home and working folders, and the
 * file-system root every absolute path is resolved under ("/" in production; a temporary folder
 * with a fake tree in tests, so that /usr/local/cuda/lib64 becomes {@code root}/usr/local/cuda/lib64).
 */
record SearchEnvironment(Map<String, String> env, Path root, String home, String workingDir) {
    SearchEnvironment {
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(root, "root");
    }

    static SearchEnvironment system() {
        return new SearchEnvironment(System.getenv(), Path.of("/"),
                System.getProperty("user.home"), System.getProperty("user.dir"));
    }

    String get(String name) {
        String v = env.get(name);
        return v == null || v.isBlank() ? null : v;
    }

    /** The physical location of a logical absolute path (identity when root is "/"). */
    Path physical(String logicalPath) {
        String p = logicalPath;
        while (p.startsWith("/")) p = p.substring(1);
        return root.resolve(p);
    }
}

package dev.twofour.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds the CUDA shared libraries on disk, in the order ARCHITECTURE.md fixes:
 * <ol>
 *   <li>{@code TWOFOUR_CUDA_LIB_DIRS} (colon-separated folders),</li>
 *   <li>the system loader's folders: {@code LD_LIBRARY_PATH}, the folders of {@code /etc/ld.so.conf}
 *       (with its includes) and the loader's default folders,</li>
 *   <li>{@code $CUDA_HOME/lib64},</li>
 *   <li>{@code /usr/local/cuda/lib64},</li>
 *   <li>the {@code nvidia/*}{@code /lib} folders of Python site-packages (where pip puts cuSPARSELt and
 *       the CUDA 13 wheels), found by scanning the usual interpreter and virtual-environment roots
 *       (no Python process is started).</li>
 * </ol>
 * Sonames are tried newest first; for each soname every folder is tried in the order above.
 * The search only looks at files: it never loads a library (loading happens later, once, in
 * {@link Cuda}). What was searched is kept so that "not found" can say where we looked.
 */
public final class CudaLibraries {

    /** The libraries twofour binds, with their sonames newest first. */
    public enum Kind {
        DRIVER("CUDA driver", "libcuda.so.1"),
        CUBLAS("cuBLAS", "libcublas.so.13", "libcublas.so.12"),
        CUBLASLT("cuBLASLt", "libcublasLt.so.13", "libcublasLt.so.12"),
        CUSPARSELT("cuSPARSELt", "libcusparseLt.so.0");

        private final String displayName;
        private final List<String> sonames;

        Kind(String displayName, String... sonames) {
            this.displayName = displayName;
            this.sonames = List.of(sonames);
        }

        public String displayName() { return displayName; }
        public List<String> sonames() { return sonames; }
    }

    /**
     * One library found on disk.
     * @param path        where it is (what gets loaded)
     * @param folder      the folder it was found in, as searched
     * @param source      which discovery step found it (e.g. "TWOFOUR_CUDA_LIB_DIRS", "/usr/local/cuda/lib64")
     * @param fileVersion the version in the name of the file the soname resolves to (e.g. "13.0.0.19"),
     *                    or the soname's own version when it is not a link
     */
    public record Found(Kind kind, String soname, Path path, String folder, String source, String fileVersion) {
        @Override public String toString() {
            return kind.displayName() + " " + soname + " (" + fileVersion + ") at " + path + " [" + source + "]";
        }
    }

    /** A folder that was searched and the step that searched it. */
    public record SearchedFolder(String folder, String source) {}

    private static volatile CudaLibraries system;

    private final Map<Kind, Found> found;
    private final List<SearchedFolder> searched;

    private CudaLibraries(Map<Kind, Found> found, List<SearchedFolder> searched) {
        this.found = found;
        this.searched = List.copyOf(searched);
    }

    /** Discovery on this machine; computed once per JVM. */
    public static CudaLibraries system() {
        CudaLibraries s = system;
        if (s == null) {
            synchronized (CudaLibraries.class) {
                s = system;
                if (s == null) system = s = discover(SearchEnvironment.system());
            }
        }
        return s;
    }

    public Optional<Found> find(Kind kind) { return Optional.ofNullable(found.get(kind)); }

    /** Every folder searched, in search order, duplicates removed. */
    public List<SearchedFolder> searched() { return searched; }

    /** One line for error messages: the sonames wanted and the folders searched. */
    public String describeSearch(Kind kind) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.join(" or ", kind.sonames())).append(" not found; searched ");
        if (searched.isEmpty()) {
            sb.append("no folders (none of the discovery locations exist)");
        } else {
            List<String> parts = new ArrayList<>();
            for (SearchedFolder f : searched) parts.add(f.folder());
            sb.append(String.join(", ", parts));
        }
        sb.append(". Set TWOFOUR_CUDA_LIB_DIRS to the folder that holds it.");
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------

    static CudaLibraries discover(SearchEnvironment env) {
        List<SearchedFolder> folders = searchFolders(env);
        Map<Kind, Found> found = new EnumMap<>(Kind.class);
        for (Kind kind : Kind.values()) {
            if (kind == Kind.CUBLASLT) continue; // paired with cuBLAS below
            Found f = findFirst(env, folders, kind, kind.sonames());
            if (f != null) found.put(kind, f);
        }
        Found cublas = found.get(Kind.CUBLAS);
        if (cublas != null) {
            // cuBLAS needs the cuBLASLt of its own major version; prefer the one next to it.
            String major = cublas.soname().substring(cublas.soname().lastIndexOf('.') + 1);
            String ltName = "libcublasLt.so." + major;
            Found lt = inFolder(env, cublas.folder(), cublas.source(), Kind.CUBLASLT, ltName);
            if (lt == null) lt = findFirst(env, folders, Kind.CUBLASLT, List.of(ltName));
            if (lt != null) found.put(Kind.CUBLASLT, lt);
        }
        return new CudaLibraries(found, folders);
    }

    private static Found findFirst(SearchEnvironment env, List<SearchedFolder> folders, Kind kind, List<String> sonames) {
        for (String soname : sonames) {
            for (SearchedFolder folder : folders) {
                Found f = inFolder(env, folder.folder(), folder.source(), kind, soname);
                if (f != null) return f;
            }
        }
        return null;
    }

    private static Found inFolder(SearchEnvironment env, String folder, String source, Kind kind, String soname) {
        Path p = env.physical(folder).resolve(soname);
        if (!Files.isRegularFile(p)) return null; // follows links; a dangling link does not count
        return new Found(kind, soname, p, folder, source, fileVersion(p, soname));
    }

    /** "libcublas.so.13" -> "13.0.0.19" when the link points at libcublas.so.13.0.0.19. */
    static String fileVersion(Path p, String soname) {
        String name = soname;
        try {
            name = p.toRealPath().getFileName().toString();
        } catch (IOException | RuntimeException e) {
            // keep the soname
        }
        int so = name.indexOf(".so.");
        if (so >= 0) return name.substring(so + 4);
        int s2 = soname.indexOf(".so.");
        return s2 >= 0 ? soname.substring(s2 + 4) : "?";
    }

    static List<SearchedFolder> searchFolders(SearchEnvironment env) {
        Set<String> seen = new LinkedHashSet<>();
        List<SearchedFolder> out = new ArrayList<>();

        String dirs = env.get("TWOFOUR_CUDA_LIB_DIRS");
        if (dirs != null) {
            for (String d : dirs.split(":")) addFolder(env, out, seen, d, "TWOFOUR_CUDA_LIB_DIRS");
        }

        String ldPath = env.get("LD_LIBRARY_PATH");
        if (ldPath != null) {
            for (String d : ldPath.split(":")) addFolder(env, out, seen, d, "LD_LIBRARY_PATH");
        }
        for (String d : ldSoConfFolders(env)) addFolder(env, out, seen, d, "ld.so.conf");
        for (String d : List.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                "/lib", "/usr/lib", "/usr/lib/wsl/lib")) {
            addFolder(env, out, seen, d, "system loader default");
        }

        String cudaHome = env.get("CUDA_HOME");
        if (cudaHome != null) addFolder(env, out, seen, stripSlash(cudaHome) + "/lib64", "$CUDA_HOME/lib64");
        addFolder(env, out, seen, "/usr/local/cuda/lib64", "/usr/local/cuda/lib64");

        for (String sitePackages : sitePackagesFolders(env)) {
            for (String lib : expand(env, sitePackages + "/nvidia/*/lib")) {
                addFolder(env, out, seen, lib, "Python site-packages");
            }
        }
        return out;
    }

    private static void addFolder(SearchEnvironment env, List<SearchedFolder> out, Set<String> seen,
                                  String folder, String source) {
        if (folder == null || folder.isBlank()) return;
        String f = stripSlash(folder.trim());
        if (!f.startsWith("/")) return; // relative loader entries are ignored, as ld.so does for security
        if (!seen.add(f)) return;
        if (!Files.isDirectory(env.physical(f))) return;
        out.add(new SearchedFolder(f, source));
    }

    private static String stripSlash(String s) {
        String r = s;
        while (r.length() > 1 && r.endsWith("/")) r = r.substring(0, r.length() - 1);
        return r;
    }

    /** Folders listed by /etc/ld.so.conf, following "include" lines (with globs) one level deep and more. */
    static List<String> ldSoConfFolders(SearchEnvironment env) {
        List<String> out = new ArrayList<>();
        readLdConf(env, "/etc/ld.so.conf", out, new LinkedHashSet<>(), 0);
        return out;
    }

    private static void readLdConf(SearchEnvironment env, String file, List<String> out, Set<String> visited, int depth) {
        if (depth > 8 || !visited.add(file)) return;
        Path p = env.physical(file);
        if (!Files.isRegularFile(p)) return;
        List<String> lines;
        try {
            lines = Files.readAllLines(p);
        } catch (IOException | RuntimeException e) {
            return;
        }
        for (String raw : lines) {
            String line = raw;
            int hash = line.indexOf('#');
            if (hash >= 0) line = line.substring(0, hash);
            line = line.trim();
            if (line.isEmpty()) continue;
            if (line.startsWith("include ") || line.startsWith("include\t")) {
                String pattern = line.substring(8).trim();
                if (!pattern.startsWith("/")) pattern = "/etc/" + pattern;
                for (String inc : expandFiles(env, pattern)) readLdConf(env, inc, out, visited, depth + 1);
            } else if (line.startsWith("hwcap ")) {
                // obsolete directive; nothing to search
            } else {
                for (String d : line.split("[:,\\s]+")) if (!d.isEmpty()) out.add(d);
            }
        }
    }

    /** Site-packages (and dist-packages) folders of the usual Python installs and virtual environments. */
    static List<String> sitePackagesFolders(SearchEnvironment env) {
        List<String> roots = new ArrayList<>();
        String venv = env.get("VIRTUAL_ENV");
        if (venv != null) roots.add(stripSlash(venv) + "/lib/python3*");
        String conda = env.get("CONDA_PREFIX");
        if (conda != null) roots.add(stripSlash(conda) + "/lib/python3*");
        if (env.workingDir() != null && env.workingDir().startsWith("/")) {
            roots.add(stripSlash(env.workingDir()) + "/.venv/lib/python3*");
        }
        if (env.home() != null && env.home().startsWith("/")) {
            String home = stripSlash(env.home());
            roots.add(home + "/.local/lib/python3*");
            roots.add(home + "/.venv/lib/python3*");
            roots.add(home + "/venv/lib/python3*");
            roots.add(home + "/miniconda3/lib/python3*");
            roots.add(home + "/anaconda3/lib/python3*");
        }
        roots.add("/usr/local/lib/python3*");
        roots.add("/usr/lib/python3*");
        roots.add("/opt/*/.venv/lib/python3*");
        roots.add("/opt/*/venv/lib/python3*");
        roots.add("/opt/*/lib/python3*");
        roots.add("/opt/conda/envs/*/lib/python3*");

        List<String> out = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (String root : roots) {
            for (String pythonDir : expand(env, root)) {
                for (String leaf : List.of("site-packages", "dist-packages")) {
                    String sp = pythonDir + "/" + leaf;
                    if (Files.isDirectory(env.physical(sp)) && seen.add(sp)) out.add(sp);
                }
            }
        }
        return out;
    }

    /** Existing folders matching a logical absolute pattern whose segments may hold '*'. */
    static List<String> expand(SearchEnvironment env, String pattern) {
        return expandMatching(env, pattern, true);
    }

    private static List<String> expandFiles(SearchEnvironment env, String pattern) {
        return expandMatching(env, pattern, false);
    }

    private static List<String> expandMatching(SearchEnvironment env, String pattern, boolean directories) {
        String[] segments = pattern.split("/");
        List<String> current = List.of("");
        for (int i = 0; i < segments.length; i++) {
            String seg = segments[i];
            if (seg.isEmpty()) continue;
            boolean last = i == segments.length - 1;
            List<String> next = new ArrayList<>();
            for (String base : current) {
                if (seg.indexOf('*') < 0 && seg.indexOf('?') < 0) {
                    next.add(base + "/" + seg);
                    continue;
                }
                Path dir = env.physical(base.isEmpty() ? "/" : base);
                if (!Files.isDirectory(dir)) continue;
                try (Stream<Path> list = Files.list(dir)) {
                    list.map(q -> q.getFileName().toString())
                            .filter(n -> globMatches(seg, n))
                            .sorted()
                            .forEach(n -> next.add(base + "/" + n));
                } catch (IOException | RuntimeException e) {
                    // unreadable folder: nothing found there
                }
                if (!last) next.removeIf(n -> !Files.isDirectory(env.physical(n)));
            }
            current = next;
        }
        List<String> out = new ArrayList<>();
        for (String c : current) {
            Path p = env.physical(c);
            if (directories ? Files.isDirectory(p) : Files.isRegularFile(p)) out.add(c);
        }
        return out;
    }

    static boolean globMatches(String glob, String name) {
        return globMatches(glob, 0, name, 0);
    }

    private static boolean globMatches(String g, int gi, String s, int si) {
        while (gi < g.length()) {
            char c = g.charAt(gi);
            if (c == '*') {
                for (int k = si; k <= s.length(); k++) if (globMatches(g, gi + 1, s, k)) return true;
                return false;
            }
            if (si >= s.length()) return false;
            if (c != '?' && c != s.charAt(si)) return false;
            gi++;
            si++;
        }
        return si == s.length();
    }
}

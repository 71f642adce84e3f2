package dev.twofour.runtime.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Runs the {@code @Test} methods of the named test classes without the JUnit platform (its console jar does
 * not fit the device tool's 64 MiB next to a JDK): {@code @BeforeAll}/{@code @AfterAll} statics, a fresh
 * instance per test, assumptions reported as skipped. Only for the GPU machine; Maven runs the same classes
 * through Surefire. Exit status 1 when a test failed.
 * <pre>java ... dev.twofour.runtime.cuda.DeviceTestRunner CLASS [CLASS...]</pre>
 */
public final class DeviceTestRunner {
    private DeviceTestRunner() {}

    public static void main(String[] args) throws Exception {
        int passed = 0, failed = 0, skipped = 0;
        List<String> failures = new ArrayList<>();
        for (String name : args) {
            Class<?> c = Class.forName(name);
            System.out.println(c.getSimpleName());
            try {
                runStatic(c, BeforeAll.class);
            } catch (TestAbortedException e) {
                System.out.println("  skipped: " + e.getMessage());
                skipped++;
                continue;
            }
            List<Method> tests = new ArrayList<>(Arrays.stream(c.getDeclaredMethods()).filter(m -> m.isAnnotationPresent(Test.class)).toList());
            tests.sort(Comparator.comparing(Method::getName));
            for (Method m : tests) {
                long t0 = System.nanoTime();
                String status;
                try {
                    var ctor = c.getDeclaredConstructor();
                    ctor.setAccessible(true);
                    Object inst = ctor.newInstance();
                    m.setAccessible(true);
                    m.invoke(inst);
                    status = "ok";
                    passed++;
                } catch (InvocationTargetException e) {
                    Throwable t = e.getCause();
                    if (t instanceof TestAbortedException) {
                        status = "skipped: " + t.getMessage();
                        skipped++;
                    } else {
                        status = "FAILED: " + t;
                        failed++;
                        failures.add(c.getSimpleName() + "." + m.getName() + ": " + t);
                        StackTraceElement[] st = t.getStackTrace();
                        for (int i = 0; i < Math.min(6, st.length); i++) status += "\n        at " + st[i];
                    }
                }
                System.out.printf("  %-60s %6.1f s  %s%n", m.getName(), (System.nanoTime() - t0) / 1e9, status);
            }
            runStatic(c, AfterAll.class);
        }
        System.out.printf("tests: %d passed, %d failed, %d skipped%n", passed, failed, skipped);
        failures.forEach(f -> System.out.println("FAILED " + f));
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void runStatic(Class<?> c, Class<? extends java.lang.annotation.Annotation> a) throws Exception {
        for (Method m : c.getDeclaredMethods()) {
            if (m.isAnnotationPresent(a) && Modifier.isStatic(m.getModifiers())) {
                m.setAccessible(true);
                try {
                    m.invoke(null);
                } catch (InvocationTargetException e) {
                    if (e.getCause() instanceof Exception ex) throw ex;
                    throw e;
                }
            }
        }
    }
}

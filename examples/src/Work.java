// Work — the JVM with a few threads (issue 13: the JVM hung at thread start under memprof).
// Four threads build and sum lists of boxed numbers and strings; main joins them and
// prints the sums, the same every run.
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class Work {
    public static void main(String[] args) throws InterruptedException {
        int n = 4;
        long[] sums = new long[n];
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            final int id = t;
            Thread thread = new Thread(() -> {
                Map<String, Long> map = new HashMap<>();
                long sum = 0;
                for (int i = 0; i < 20000; i++) {
                    String key = "k" + (i % 1000) + "-" + id;
                    map.merge(key, (long) i, Long::sum);
                }
                for (long v : map.values()) sum += v;
                sums[id] = sum;
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) thread.join();
        for (int t = 0; t < n; t++) System.out.println("thread " + t + ": " + sums[t]);
    }
}

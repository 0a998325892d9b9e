// Waits `args[0]` ms, then allocates until the heap is exhausted. Prints the moment of the
// OutOfMemoryError (`at=<unix ms>`) with the error, then rethrows it (the JVM prints the
// usual "Exception in thread "main" java.lang.OutOfMemoryError: Java heap space" and exits 1;
// with -XX:+ExitOnOutOfMemoryError it exits 3 before that). `args[1]` > 1 repeats the cycle
// that many times, `args[2]` ms apart, without rethrowing (for latency benchmarks).
import java.util.ArrayList;

public class Hog {
    public static void main(String[] args) throws Exception {
        long delay = args.length > 0 ? Long.parseLong(args[0]) : 1000;
        int cycles = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        long gap = args.length > 2 ? Long.parseLong(args[2]) : 500;
        Thread.sleep(delay);
        for (int c = 1; ; c++) {
            ArrayList<byte[]> hog = new ArrayList<>();
            try {
                while (true) hog.add(new byte[1 << 20]);
            } catch (OutOfMemoryError e) {
                hog = null;
                System.out.println("at=" + System.currentTimeMillis() + " " + e);
                System.out.flush();
                if (c >= cycles) {
                    if (cycles == 1) throw e;
                    while (true) Thread.sleep(60_000);
                }
            }
            Thread.sleep(gap);
        }
    }
}

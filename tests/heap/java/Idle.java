// Keeps `args[0]` MiB live, forces a GC, prints READY and idles: heap figures stay still.
public class Idle {
    static byte[][] keep;
    public static void main(String[] args) throws Exception {
        int mb = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        keep = new byte[mb][];
        for (int i = 0; i < mb; i++) keep[i] = new byte[1 << 20];
        System.gc();
        System.out.println("READY " + ProcessHandle.current().pid());
        System.out.flush();
        while (true) Thread.sleep(60_000);
    }
}

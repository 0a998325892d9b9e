// Fills the old generation to about `args[0]` percent of the maximum heap with live data,
// then forces a full GC every 300 ms: heap pressure by both of the agent's rules.
import java.util.ArrayList;

public class Pressure {
    public static void main(String[] args) throws Exception {
        int percent = args.length > 0 ? Integer.parseInt(args[0]) : 93;
        long target = Runtime.getRuntime().maxMemory() * percent / 100;
        ArrayList<byte[]> live = new ArrayList<>();
        long held = 0;
        while (held < target) {
            live.add(new byte[32 * 1024]);
            held += 32 * 1024;
        }
        System.out.println("HOLDING " + held + " of " + Runtime.getRuntime().maxMemory());
        System.out.flush();
        while (true) {
            System.gc();
            Thread.sleep(300);
            if (live.isEmpty()) break;
        }
    }
}

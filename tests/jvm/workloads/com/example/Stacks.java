package com.example;

/** Many threads recursing through randomly chosen methods out of 64
 * distinct ones, to a random depth of 40 to 100: nearly every stack differs,
 * far more of them than a small stack table holds. Generated: m00..m63 are
 * distinct methods, each calling the next one chosen by a xorshift seed. */
public class Stacks {
    static volatile long sink;

    static long leaf(long s) {
        long x = s;
        for (int i = 0; i < 5_000; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
        return x;
    }

    static long rnd(long s) {
        s ^= s << 13;
        s ^= s >>> 7;
        s ^= s << 17;
        return s;
    }

    /** The bottom of a stack: a little CPU, then a short sleep, so threads
     * blocked at their stacks are sampled too (wall time), not only the few
     * on a CPU. */
    static long bottom(long s) {
        long x = leaf(s);
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return x;
    }

    static long next(int d, long s) {
        if (d <= 0) return bottom(s);
        s = rnd(s);
        switch ((int) (s >>> 58)) {
            case 0: return m00(d - 1, s);
            case 1: return m01(d - 1, s);
            case 2: return m02(d - 1, s);
            case 3: return m03(d - 1, s);
            case 4: return m04(d - 1, s);
            case 5: return m05(d - 1, s);
            case 6: return m06(d - 1, s);
            case 7: return m07(d - 1, s);
            case 8: return m08(d - 1, s);
            case 9: return m09(d - 1, s);
            case 10: return m10(d - 1, s);
            case 11: return m11(d - 1, s);
            case 12: return m12(d - 1, s);
            case 13: return m13(d - 1, s);
            case 14: return m14(d - 1, s);
            case 15: return m15(d - 1, s);
            case 16: return m16(d - 1, s);
            case 17: return m17(d - 1, s);
            case 18: return m18(d - 1, s);
            case 19: return m19(d - 1, s);
            case 20: return m20(d - 1, s);
            case 21: return m21(d - 1, s);
            case 22: return m22(d - 1, s);
            case 23: return m23(d - 1, s);
            case 24: return m24(d - 1, s);
            case 25: return m25(d - 1, s);
            case 26: return m26(d - 1, s);
            case 27: return m27(d - 1, s);
            case 28: return m28(d - 1, s);
            case 29: return m29(d - 1, s);
            case 30: return m30(d - 1, s);
            case 31: return m31(d - 1, s);
            case 32: return m32(d - 1, s);
            case 33: return m33(d - 1, s);
            case 34: return m34(d - 1, s);
            case 35: return m35(d - 1, s);
            case 36: return m36(d - 1, s);
            case 37: return m37(d - 1, s);
            case 38: return m38(d - 1, s);
            case 39: return m39(d - 1, s);
            case 40: return m40(d - 1, s);
            case 41: return m41(d - 1, s);
            case 42: return m42(d - 1, s);
            case 43: return m43(d - 1, s);
            case 44: return m44(d - 1, s);
            case 45: return m45(d - 1, s);
            case 46: return m46(d - 1, s);
            case 47: return m47(d - 1, s);
            case 48: return m48(d - 1, s);
            case 49: return m49(d - 1, s);
            case 50: return m50(d - 1, s);
            case 51: return m51(d - 1, s);
            case 52: return m52(d - 1, s);
            case 53: return m53(d - 1, s);
            case 54: return m54(d - 1, s);
            case 55: return m55(d - 1, s);
            case 56: return m56(d - 1, s);
            case 57: return m57(d - 1, s);
            case 58: return m58(d - 1, s);
            case 59: return m59(d - 1, s);
            case 60: return m60(d - 1, s);
            case 61: return m61(d - 1, s);
            case 62: return m62(d - 1, s);
            case 63: return m63(d - 1, s);
            default: throw new IllegalStateException();
        }
    }

    static long m00(int d, long s) { return next(d, s + 1) + 0; }
    static long m01(int d, long s) { return next(d, s + 3) + 1; }
    static long m02(int d, long s) { return next(d, s + 5) + 2; }
    static long m03(int d, long s) { return next(d, s + 7) + 3; }
    static long m04(int d, long s) { return next(d, s + 9) + 4; }
    static long m05(int d, long s) { return next(d, s + 11) + 5; }
    static long m06(int d, long s) { return next(d, s + 13) + 6; }
    static long m07(int d, long s) { return next(d, s + 15) + 7; }
    static long m08(int d, long s) { return next(d, s + 17) + 8; }
    static long m09(int d, long s) { return next(d, s + 19) + 9; }
    static long m10(int d, long s) { return next(d, s + 21) + 10; }
    static long m11(int d, long s) { return next(d, s + 23) + 11; }
    static long m12(int d, long s) { return next(d, s + 25) + 12; }
    static long m13(int d, long s) { return next(d, s + 27) + 13; }
    static long m14(int d, long s) { return next(d, s + 29) + 14; }
    static long m15(int d, long s) { return next(d, s + 31) + 15; }
    static long m16(int d, long s) { return next(d, s + 33) + 16; }
    static long m17(int d, long s) { return next(d, s + 35) + 17; }
    static long m18(int d, long s) { return next(d, s + 37) + 18; }
    static long m19(int d, long s) { return next(d, s + 39) + 19; }
    static long m20(int d, long s) { return next(d, s + 41) + 20; }
    static long m21(int d, long s) { return next(d, s + 43) + 21; }
    static long m22(int d, long s) { return next(d, s + 45) + 22; }
    static long m23(int d, long s) { return next(d, s + 47) + 23; }
    static long m24(int d, long s) { return next(d, s + 49) + 24; }
    static long m25(int d, long s) { return next(d, s + 51) + 25; }
    static long m26(int d, long s) { return next(d, s + 53) + 26; }
    static long m27(int d, long s) { return next(d, s + 55) + 27; }
    static long m28(int d, long s) { return next(d, s + 57) + 28; }
    static long m29(int d, long s) { return next(d, s + 59) + 29; }
    static long m30(int d, long s) { return next(d, s + 61) + 30; }
    static long m31(int d, long s) { return next(d, s + 63) + 31; }
    static long m32(int d, long s) { return next(d, s + 65) + 32; }
    static long m33(int d, long s) { return next(d, s + 67) + 33; }
    static long m34(int d, long s) { return next(d, s + 69) + 34; }
    static long m35(int d, long s) { return next(d, s + 71) + 35; }
    static long m36(int d, long s) { return next(d, s + 73) + 36; }
    static long m37(int d, long s) { return next(d, s + 75) + 37; }
    static long m38(int d, long s) { return next(d, s + 77) + 38; }
    static long m39(int d, long s) { return next(d, s + 79) + 39; }
    static long m40(int d, long s) { return next(d, s + 81) + 40; }
    static long m41(int d, long s) { return next(d, s + 83) + 41; }
    static long m42(int d, long s) { return next(d, s + 85) + 42; }
    static long m43(int d, long s) { return next(d, s + 87) + 43; }
    static long m44(int d, long s) { return next(d, s + 89) + 44; }
    static long m45(int d, long s) { return next(d, s + 91) + 45; }
    static long m46(int d, long s) { return next(d, s + 93) + 46; }
    static long m47(int d, long s) { return next(d, s + 95) + 47; }
    static long m48(int d, long s) { return next(d, s + 97) + 48; }
    static long m49(int d, long s) { return next(d, s + 99) + 49; }
    static long m50(int d, long s) { return next(d, s + 101) + 50; }
    static long m51(int d, long s) { return next(d, s + 103) + 51; }
    static long m52(int d, long s) { return next(d, s + 105) + 52; }
    static long m53(int d, long s) { return next(d, s + 107) + 53; }
    static long m54(int d, long s) { return next(d, s + 109) + 54; }
    static long m55(int d, long s) { return next(d, s + 111) + 55; }
    static long m56(int d, long s) { return next(d, s + 113) + 56; }
    static long m57(int d, long s) { return next(d, s + 115) + 57; }
    static long m58(int d, long s) { return next(d, s + 117) + 58; }
    static long m59(int d, long s) { return next(d, s + 119) + 59; }
    static long m60(int d, long s) { return next(d, s + 121) + 60; }
    static long m61(int d, long s) { return next(d, s + 123) + 61; }
    static long m62(int d, long s) { return next(d, s + 125) + 62; }
    static long m63(int d, long s) { return next(d, s + 127) + 63; }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 4;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final long seed = 0x9E3779B97F4A7C15L * (t + 1);
            ts[t] = new Thread(() -> {
                long s = seed, x = 0;
                while (System.nanoTime() < end) {
                    s = rnd(s);
                    int depth = 40 + (int) ((s >>> 1) % 61);
                    x += next(depth, s);
                }
                sink += x;
            }, "stacks-" + t);
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        System.out.println("done " + sink);
    }
}

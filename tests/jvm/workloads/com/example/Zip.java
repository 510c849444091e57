package com.example;

import java.util.Random;
import java.util.zip.Deflater;

/** A Java method whose time goes into zlib through JNI (java.util.zip.Deflater). */
public class Zip {
    static long compressAll(byte[] data, int rounds) {
        long total = 0;
        byte[] out = new byte[data.length + 1024];
        for (int r = 0; r < rounds; r++) {
            Deflater d = new Deflater(9);
            d.setInput(data);
            d.finish();
            while (!d.finished())
                total += d.deflate(out);
            d.end();
        }
        return total;
    }

    public static void main(String[] args) {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        byte[] data = new byte[1 << 20];
        Random rnd = new Random(1);
        for (int i = 0; i < data.length; i++)
            data[i] = (byte) ("abcdefgh".charAt(rnd.nextInt(8)) + (i % 251 == 0 ? 1 : 0));
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long total = 0;
        while (System.nanoTime() < end)
            total += compressAll(data, 1);
        System.out.println("done " + total);
    }
}

"""A small program for `polyprof record`: CPU work in two functions and a thread."""
import sys
import threading
import time


def parse(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        sorted(str(i) for i in range(300))


def render(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        "".join(chr(65 + i % 26) for i in range(300))


def main():
    t = threading.Thread(target=render, args=(0.3,), name="renderer")
    t.start()
    parse(0.6)
    t.join()
    if len(sys.argv) > 1:
        sys.exit(int(sys.argv[1]))


if __name__ == "__main__":
    main()

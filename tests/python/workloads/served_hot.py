"""Burns CPU in hot_function until killed: a live process for `go tool pprof`
against the local endpoint (started by the environment, POLYPROF_OPTIONS)."""


def hot_function():
    total = 0
    for i in range(200000):
        total += i * i % 7
    return total


def cold_function():
    return sum(range(100))


while True:
    hot_function()
    cold_function()

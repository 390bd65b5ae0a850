print("memprof: not yet built")

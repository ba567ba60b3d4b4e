import sys

# Note: the guard matters: the load generator's processes are started with `spawn`, which
# imports the main module again in every child.
if __name__ == "__main__":
    from bench.run import main

    sys.exit(main())

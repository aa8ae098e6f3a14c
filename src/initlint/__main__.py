import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C before main() can catch it: the same quiet end
    sys.stderr.write("initlint: interrupted\n")
    sys.exit(130)

sys.exit(main())

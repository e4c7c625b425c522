import sys

from fk_bench.cli import main

sys.exit(main())

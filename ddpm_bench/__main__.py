import sys

from ddpm_bench.cli import main

sys.exit(main())

"""Feature networks (backbones), reference statistics and their cache, FID and KID."""

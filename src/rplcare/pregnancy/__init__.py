"""Early-pregnancy calculators: dating, hCG, progesterone, viability, luteal schedule."""

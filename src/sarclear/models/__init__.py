"""Pure torch modules (no file I/O): the U-Net generator, the PatchGAN discriminator, the losses."""

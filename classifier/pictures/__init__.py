"""Pictures: untrusted bytes to an RGB picture within limits (images, video, refusals), the long-strip
trim, JPEG decoding on the model's device, and the cache of image embeddings."""

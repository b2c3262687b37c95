/** Decode an image before showing it, so switching items never flashes a half-loaded frame. */

export async function loadImage(url: string): Promise<HTMLImageElement> {
  const image = new Image();
  image.decoding = "async";
  image.src = url;
  await image.decode();
  return image;
}

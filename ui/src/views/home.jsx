export function Home() {
  return <section aria-labelledby="home-h"><h1 id="home-h">humstack</h1></section>;
}

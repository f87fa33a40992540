package apiserver

import (
	"context"
	"strings"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
)

// maxCachedTokens bounds the token cache; past it the cache starts over.
const maxCachedTokens = 10_000

// tokenCache keeps the token objects that bearers presented, so a request
// costs no store read and no decode to authenticate. A watch on the
// tokens' keys drops a token when it changes or goes, so a deleted or
// re-issued token stops working within the watch's delay (milliseconds),
// as the policy cache does for roles and bindings. Without a running
// watch the cache is not used: every request reads the store, slower,
// never wrong. Unknown tokens are not cached.
type tokenCache struct {
	read auth.TokenLookup

	mu    sync.Mutex
	ready bool   // a watch is running: cached entries are current
	gen   uint64 // bumped by every change seen, so a read that raced one is not kept
	m     map[string]*api.Token
}

// CachedTokenLookup is TokenLookup with the cache above; the watch runs
// until ctx ends.
func CachedTokenLookup(ctx context.Context, store storage.Store) auth.TokenLookup {
	c := &tokenCache{read: TokenLookup(store), m: map[string]*api.Token{}}
	go c.watch(ctx, store)
	return c.lookup
}

func (c *tokenCache) lookup(ctx context.Context, id string) (*api.Token, error) {
	c.mu.Lock()
	t, ready, gen := c.m[id], c.ready, c.gen
	c.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err := c.read(ctx, id)
	if err != nil || !ready {
		return t, err
	}
	c.mu.Lock()
	if c.ready && c.gen == gen {
		if len(c.m) >= maxCachedTokens {
			clear(c.m)
		}
		c.m[id] = t
	}
	c.mu.Unlock()
	return t, nil
}

// watch drops the tokens that change. When the watch cannot be made (the
// store closed) the cache stays off for good.
func (c *tokenCache) watch(ctx context.Context, store storage.Store) {
	prefix := "/" + api.TokenKind.Plural + "/"
	defer c.reset(false)
	for ctx.Err() == nil {
		ch, err := store.Watch(ctx, prefix, 0)
		if err != nil {
			return
		}
		c.reset(true) // what was read before the watch may be stale
		for ev := range ch {
			c.mu.Lock()
			c.gen++
			delete(c.m, strings.TrimPrefix(ev.KV.Key, prefix))
			c.mu.Unlock()
		}
		c.reset(false) // changes until the next watch go unseen
	}
}

func (c *tokenCache) reset(ready bool) {
	c.mu.Lock()
	c.gen++
	c.ready = ready
	clear(c.m)
	c.mu.Unlock()
}

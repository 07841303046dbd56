package route

import "github.com/colibri-bus/colibri/routing"

import "testing"

func TestCreateEndpointsBatch(t *testing.T) {
	fx := newFixture(t, "a")
	eps, err := fx.conf.CreateEndpoints([]string{"b", "c", "v"}, []routing.EndpointOptions{{}, {}, {Visitor: true}})
	if err != nil || len(eps) != 3 || !eps[2].Visitor() || fx.conf.Endpoint("c") != eps[1] || len(fx.conf.Endpoints()) != 4 {
		t.Fatalf("CreateEndpoints: %v, %v", eps, err)
	}
	if eps[0].Password() == eps[1].Password() || len(eps[0].Password()) != 24 {
		t.Error("batch endpoints share or lack a secret")
	}
	for _, bad := range [][]string{{"d", "a"}, {"d", "d"}, {"d", "bad/id"}} {
		if _, err := fx.conf.CreateEndpoints(bad, nil); err == nil {
			t.Errorf("CreateEndpoints(%q) succeeded", bad)
		}
		if fx.conf.Endpoint("d") != nil {
			t.Errorf("CreateEndpoints(%q) failed but created d", bad)
		}
	}
}

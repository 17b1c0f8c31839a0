import { describe, expect, it } from "vitest";
import { gallerySettings } from "../src/config.ts";
import { fieldErrors, problemFrom, problemLines } from "../src/problem.ts";
import { listQuery, parseTags, readViewState, viewStateSearch } from "../src/view-state.ts";

describe("the gallery's address", () => {
  it("keeps the filters and the open image, and reads them back", () => {
    const state = { filters: { user: "alice", tag: "safari", from: "2026-11-01", to: "2026-11-30" }, image: "img_1" };
    const search = viewStateSearch(state);
    expect(search).toBe("?user=alice&tag=safari&from=2026-11-01&to=2026-11-30&image=img_1");
    expect(readViewState(search)).toEqual(state);
    expect(viewStateSearch({ filters: { user: "", tag: "", from: "", to: "" }, image: null })).toBe("");
    expect(readViewState("?tag=%20beach%20&other=1")).toEqual({
      filters: { user: "", tag: "beach", from: "", to: "" },
      image: null,
    });
  });

  it("asks the API with its own parameter names, leaving out empty filters", () => {
    expect(listQuery({ user: "alice", tag: "", from: "2026-11-01", to: "" }, "c1")).toEqual({
      limit: 24,
      user_id: "alice",
      from: "2026-11-01",
      cursor: "c1",
    });
  });

  it("splits tags on commas only, as the API keeps them", () => {
    expect(parseTags(" Beach, holiday ,,beach, Summer ")).toEqual(["beach", "holiday", "summer"]);
    // A space inside a tag is kept: the API refuses it, and says so on the field.
    expect(parseTags("beach party, holiday")).toEqual(["beach party", "holiday"]);
    expect(parseTags(" , ")).toEqual([]);
  });
});

describe("problems", () => {
  it("groups errors[] by form field, naming the item of a list", () => {
    const problem = problemFrom(400, {
      type: "about:blank",
      title: "Bad Request",
      status: 400,
      detail: "invalid",
      errors: [
        { path: "tags.2", message: "must be 1-64 letters" },
        { path: "title", message: "is required" },
      ],
    });
    expect(fieldErrors(problem)).toEqual(
      new Map([
        ["tags", ["#3: must be 1-64 letters"]],
        ["title", ["is required"]],
      ]),
    );
  });

  it("says the detail, then each field error it does not already say", () => {
    const errors = [
      { path: "tags.0", message: "must be 1-64 letters" },
      { path: "title", message: "is required" },
    ];
    expect(problemLines({ detail: "tags.0: must be 1-64 letters", errors })).toEqual([
      "tags.0: must be 1-64 letters",
      "title: is required",
    ]);
    expect(problemLines({ detail: "the file is not an image" })).toEqual(["the file is not an image"]);
  });

  it("makes a problem of an answer that is not problem JSON", () => {
    expect(problemFrom(502, "<html>Bad gateway</html>", "Upload refused")).toMatchObject({
      status: 502,
      title: "Upload refused",
      detail: "<html>Bad gateway</html>",
    });
    expect(problemFrom(0, "").detail).toBe("the server could not be reached");
  });
});

describe("build-time settings", () => {
  it("signs in locally without Cognito settings, and through the hosted login with them", () => {
    expect(gallerySettings({}, "http://127.0.0.1:3000")).toEqual({ apiUrl: "", auth: { kind: "development" } });
    expect(
      gallerySettings(
        {
          VITE_API_URL: "https://api.example.com/",
          VITE_COGNITO_DOMAIN: "images-prod.auth.eu-west-1.amazoncognito.com",
          VITE_COGNITO_CLIENT_ID: "client",
        },
        "https://gallery.example.com",
      ),
    ).toEqual({
      apiUrl: "https://api.example.com",
      auth: {
        kind: "cognito",
        domainUrl: "https://images-prod.auth.eu-west-1.amazoncognito.com",
        clientId: "client",
        redirectUri: "https://gallery.example.com/",
      },
    });
  });
});
